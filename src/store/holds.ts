import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { LibcamError } from '../errors.js';
import type { IndexDb } from './indexDb.js';
import type { SegmentStore } from './segments.js';

/** Footage that no prune, disk guard or repair may delete: one camera, a time range. */
export interface Hold {
  id: string;
  camera: string;
  /** UTC milliseconds; a segment overlapping [from, to) is held. */
  from: number;
  to: number;
  /** Why: an incident id, a test, an operator's note. */
  reason: string;
  created: number;
  /** The incident that placed it: only releasing that incident ends it. */
  owner?: string;
}

/**
 * Holds in the index (docs/design.md, invariant 3). Incidents place and release them.
 *
 * A hold is written in its camera's queue, the queue every deletion of that camera runs
 * in and reads the holds afresh in: a hold placed while a prune runs is seen by every
 * deletion round after it, and a round under way finishes before the hold exists.
 */
export class Holds {
  private readonly hold;

  constructor(
    private readonly index: IndexDb,
    private readonly store: SegmentStore,
    private readonly clock: Clock,
  ) {
    this.hold = index.db.sublevel<string, Hold>('hold', { valueEncoding: 'json' });
  }

  place(camera: string, from: number, to: number, reason: string, owner?: string): Promise<Hold> {
    return this.store.enqueue(camera, async () => {
      const hold: Hold = { id: randomUUID(), camera, from: Math.round(from), to: Math.round(to), reason, created: this.clock.now(), ...(owner ? { owner } : {}) };
      await this.index.db.batch([{ type: 'put', sublevel: this.hold, key: hold.id, value: hold }], { sync: true });
      return hold;
    });
  }

  /** Ends a hold; `asOwner` is the incident releasing its own holds (others may not end them). */
  async release(id: string, asOwner?: string): Promise<boolean> {
    const existing = await this.hold.get(id);
    if (!existing) return false;
    if (existing.owner !== undefined && existing.owner !== asOwner) {
      throw new LibcamError('conflict', `hold ${id} belongs to incident ${existing.owner}: it ends when the incident is released (libcam incidents release ${existing.owner} --requested-by … --note …)`, {
        id,
        incident: existing.owner,
      });
    }
    await this.store.enqueue(existing.camera, () => this.index.db.batch([{ type: 'del', sublevel: this.hold, key: id }], { sync: true }));
    return true;
  }

  async list(): Promise<Hold[]> {
    const out: Hold[] = [];
    for await (const hold of this.hold.values()) out.push(hold);
    return out;
  }

  /** Whether a hold covers [start, end) of the camera now. */
  async covers(camera: string, start: number, end: number): Promise<boolean> {
    for await (const h of this.hold.values()) if (h.camera === camera && start < h.to && end > h.from) return true;
    return false;
  }

  /** A predicate over the holds as they are now: does any of them cover this segment? */
  async snapshot(): Promise<(camera: string, start: number, end: number) => boolean> {
    const holds = await this.list();
    return (camera, start, end) => holds.some((h) => h.camera === camera && start < h.to && end > h.from);
  }
}
