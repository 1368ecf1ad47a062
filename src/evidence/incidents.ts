import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { iso, type Clock, type Timer } from '../clock.js';
import { LibcamError } from '../errors.js';
import { DailyIds } from './dailyIds.js';
import { Serial } from '../serial.js';
import type { Logger } from '../log.js';
import type { Purpose } from '../purposes.js';
import { anchorOf, type AuditActor, type AuditEntry, type AuditInput } from '../store/audit.js';
import { fsyncPath, mkdirDurable } from '../store/fsync.js';
import type { Holds } from '../store/holds.js';
import type { IndexDb } from '../store/indexDb.js';
import type { GapCause, GapEntry, SegmentEntry, SegmentStore } from '../store/segments.js';
import { cutClip, readWhole, type ClipProgress } from './clip.js';

/** Where clips live: in the store, a folder fsck and retention leave alone. */
export const INCIDENTS_FOLDER = '.incidents';

export type IncidentState = 'collecting' | 'cutting' | 'open' | 'released';

export interface IncidentClip {
  camera: string;
  /** Relative to the store. */
  file: string;
  start: number;
  end: number;
  bytes: number;
  sha256: string;
  /** How much earlier than asked the clip starts (it starts at a keyframe). */
  earlierMs: number;
  /** The held segments it was cut from, with their place in the camera's hash chain. */
  segments: { start: number; end: number; sha256: string; prev: string | null }[];
}

/** An incident: footage of several cameras isolated for one purpose (policy §3, §5). Times are UTC ms. */
export interface Incident {
  id: string;
  created: number;
  cameras: string[];
  from: number;
  to: number;
  purpose: Purpose;
  requestedBy: string;
  /** The account that opened it (the kernel's), with --requested-by. */
  actor: AuditActor;
  note: string | null;
  patrons: string[];
  state: IncidentState;
  holds: string[];
  /** Cameras asked for that had no footage in the range, and why. */
  refused: { camera: string; reason: string }[];
  /** Recorded gaps with their cause, and spans with nothing: `pruned` (deleted before it was held), `not-recorded` (before the camera's oldest footage). */
  gaps: { camera: string; start: number; end: number | null; cause: GapCause | 'pruned' | 'not-recorded' }[];
  clips: IncidentClip[];
  /** The audit entry that opened it. */
  openedSeq: number;
  released: { at: number; actor: AuditActor; note: string } | null;
}

export interface IsolateRequest {
  cameras: string[];
  from: number;
  to: number;
  purpose: Purpose;
  note: string | null;
  patrons: string[];
}

export interface IncidentsOptions {
  index: IndexDb;
  store: SegmentStore;
  holds: Holds;
  audit: (input: AuditInput) => Promise<AuditEntry>;
  /** Queues a notice to the Library Director. */
  notify: (subject: string, text: string) => Promise<unknown>;
  clock: Clock;
  log: Logger;
  segmentSeconds: number;
  names: readonly string[];
  /** Whether a camera is recorded at all (not disabled): live footage can be collected from it. */
  recording: (camera: string) => boolean;
}

/** A span this long with neither footage nor a recorded gap is listed as a gap of its own. */
const UNACCOUNTED_MS = 1000;

/** After a live incident's end, how long to wait for the segment holding it to be indexed. */
const SETTLE_MS = 2000;

/**
 * Incidents (policy §3: authorised staff may direct IT staff to isolate live or recorded
 * data related to a specific incident). Isolating holds every segment of the named
 * cameras in the range (no prune, disk guard or repair deletes them), then cuts one clip
 * per camera from them without re-encoding; a range that ends in the future keeps
 * collecting until its end and is cut then, across restarts. Opening and releasing are
 * audited and the Director is told; releasing ends the holds (the footage ages out as
 * usual) and deletes the clips, and the record stays for ever.
 */
export class Incidents {
  private readonly records;
  private readonly ids;
  private readonly timers = new Map<string, Timer>();
  private readonly cutting = new Map<string, Promise<Incident>>();
  private readonly opening = new Serial();

  constructor(private readonly opts: IncidentsOptions) {
    this.records = opts.index.db.sublevel<string, Incident>('incident', { valueEncoding: 'json' });
    this.ids = new DailyIds(opts.index, 'incident-day', 'INC');
  }

  /** Live incidents go on collecting; cuts a crash interrupted are made again. */
  async start(): Promise<void> {
    for await (const incident of this.records.values()) {
      if (incident.state === 'collecting') this.collect(incident);
      else if (incident.state === 'cutting') void this.finish(incident.id).catch((err: unknown) => this.opts.log.error({ err, incident: incident.id }, 'cannot cut the clips of an incident'));
    }
  }

  stop(): void {
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  private async save(incident: Incident): Promise<void> {
    await this.opts.index.db.batch([{ type: 'put', sublevel: this.records, key: incident.id, value: incident }], { sync: true });
  }

  async get(id: string): Promise<Incident> {
    const incident = await this.records.get(id);
    if (!incident) throw new LibcamError('not-found', `no incident ${id} (libcam incidents list shows them)`, { id });
    return incident;
  }

  async list(): Promise<Incident[]> {
    return this.records.values().all();
  }

  isolate(request: IsolateRequest, actor: AuditActor, progress: (p: ClipProgress) => void): Promise<Incident> {
    // Opening is one at a time (two isolates at once must not take the same number); the
    // cutting that follows is not.
    return this.opening.run(() => this.open(request, actor)).then((incident) => (incident.state === 'collecting' ? incident : this.finish(incident.id, progress)));
  }

  private async open(request: IsolateRequest, actor: AuditActor): Promise<Incident> {
    const { store, clock } = this.opts;
    const now = clock.now();
    const live = request.to > now;
    const accepted: string[] = [];
    const refused: Incident['refused'] = [];
    for (const camera of request.cameras) {
      const found = await store.range(camera, request.from, Math.min(request.to, now));
      if (live && !this.opts.recording(camera)) refused.push({ camera, reason: `${camera} is disabled in the configuration: nothing is recorded to collect` });
      else if (found.segments.length > 0 || live) accepted.push(camera);
      else refused.push({ camera, reason: await this.noFootage(camera, request.from, request.to, found.gaps) });
    }
    if (accepted.length === 0) {
      throw new LibcamError('invalid-input', `nothing to isolate: ${refused.map((r) => `${r.camera}: ${r.reason}`).join('; ')}`, { refused });
    }
    const created = now;
    const { id, counter } = await this.ids.next(created);
    const holds: string[] = [];
    for (const camera of accepted) holds.push((await this.opts.holds.place(camera, request.from, request.to, `incident ${id}`, id)).id);
    const entry = await this.opts.audit({
      actor,
      action: 'incident.isolate',
      purpose: request.purpose,
      subject: id,
      details: { cameras: accepted, refused, from: iso(request.from), to: iso(request.to), live, note: request.note, patrons: request.patrons },
    });
    const incident: Incident = {
      id,
      created,
      cameras: accepted,
      from: request.from,
      to: request.to,
      purpose: request.purpose,
      requestedBy: actor.requestedBy ?? '',
      actor,
      note: request.note,
      patrons: request.patrons,
      state: live ? 'collecting' : 'cutting',
      holds,
      refused,
      gaps: [],
      clips: [],
      openedSeq: entry.seq,
      released: null,
    };
    await this.opts.index.db.batch<string, unknown>(
      [
        { type: 'put', sublevel: this.records, key: id, value: incident },
        counter,
      ],
      { sync: true },
    );
    await this.opts.notify(`libcam: incident ${id} opened (${request.purpose})`, this.notice('opened', incident, entry));
    this.opts.log.info({ incident: id, cameras: accepted, live }, 'incident opened');
    if (live) this.collect(incident);
    return incident;
  }

  /** Why a camera has nothing in the range: the gaps there, or where its footage begins and ends. */
  private async noFootage(camera: string, from: number, to: number, gaps: GapEntry[]): Promise<string> {
    const inRange = gaps.map((g) => `${g.cause} from ${iso(g.start)}${g.end === null ? ' (still open)' : ` to ${iso(g.end)}`}`);
    const { before, after } = await this.opts.store.around(camera, from);
    const near = [before ? `the footage before ends at ${iso(before.end)}` : 'nothing is recorded before it', after ? `the footage after starts at ${iso(after.start)}` : undefined]
      .filter((s) => s !== undefined)
      .join(', ');
    const oldest = !before && after ? ` (the oldest footage of ${camera} starts at ${iso(after.start)})` : '';
    return `no footage from ${iso(from)} to ${iso(to)}${inRange.length > 0 ? `: ${inRange.join('; ')}` : ''}; ${near}${oldest}`;
  }

  /** A live incident: cut once its end has passed and the segment holding it is indexed. */
  private collect(incident: Incident): void {
    // An interval, not a time of day: footage times follow the pipeline's clock within a run
    // (docs/design.md, Time), so the footage holding `to` arrives this much uptime from now
    // whatever NTP does to the wall clock meanwhile; a wall-clock timer would cut early.
    const wait = Math.max(0, incident.to + this.opts.segmentSeconds * 1000 + SETTLE_MS - this.opts.clock.now());
    this.timers.get(incident.id)?.cancel();
    this.timers.set(
      incident.id,
      this.opts.clock.setTimeout(() => {
        this.timers.delete(incident.id);
        this.finish(incident.id).catch((err: unknown) => this.opts.log.error({ err, incident: incident.id }, 'cannot cut the clips of an incident'));
      }, wait),
    );
  }

  /** Cuts the incident's clips (again, from scratch, after a crash) and opens it. */
  finish(id: string, progress?: (p: ClipProgress) => void): Promise<Incident> {
    const running = this.cutting.get(id);
    if (running) return running;
    const work = this.cut(id, progress).finally(() => this.cutting.delete(id));
    this.cutting.set(id, work);
    return work;
  }

  private async cut(id: string, progress?: (p: ClipProgress) => void): Promise<Incident> {
    const { store } = this.opts;
    let incident = await this.get(id);
    if (incident.state === 'collecting') {
      incident = { ...incident, state: 'cutting' };
      await this.save(incident);
    }
    const folder = join(store.root, INCIDENTS_FOLDER, id);
    await rm(folder, { recursive: true, force: true });
    await mkdirDurable(folder);
    const plan: { camera: string; segments: SegmentEntry[]; gaps: GapEntry[] }[] = [];
    for (const camera of incident.cameras) {
      const found = await store.range(camera, incident.from, incident.to);
      plan.push({ camera, segments: found.segments, gaps: found.gaps });
    }
    const total = plan.reduce((n, p) => n + p.segments.reduce((m, s) => m + s.bytes, 0), 0);
    const segments = plan.reduce((n, p) => n + p.segments.length, 0);
    let bytesBefore = 0;
    let segmentsBefore = 0;
    const clips: IncidentClip[] = [];
    for (const { camera, segments: entries } of plan) {
      const byPath = new Map(entries.map((e) => [join(store.root, e.file), e]));
      const parts = await cutClip(
        join(folder, camera),
        entries.map((e) => ({ path: join(store.root, e.file), start: e.start, end: e.end, bytes: e.bytes })),
        incident.from,
        incident.to,
        (source) => {
          const entry = byPath.get(source.path);
          return entry ? store.reading(entry, (path) => readWhole(path)) : readWhole(source.path);
        },
        (p) => progress?.({ segmentsDone: segmentsBefore + p.segmentsDone, segments, bytesDone: bytesBefore + p.bytesDone, bytes: total }),
      );
      bytesBefore += entries.reduce((m, s) => m + s.bytes, 0);
      segmentsBefore += entries.length;
      for (const part of parts) {
        const used = entries.filter((e) => e.end > part.start && e.start < part.end);
        clips.push({
          camera,
          file: relative(store.root, part.path),
          start: part.start,
          end: part.end,
          bytes: part.bytes,
          sha256: part.sha256,
          earlierMs: Math.max(0, incident.from - part.start),
          segments: used.map((e) => ({ start: e.start, end: e.end, sha256: e.sha256, prev: e.prev })),
        });
      }
    }
    await fsyncPath(folder);
    const gaps: Incident['gaps'] = [];
    for (const { camera, segments: entries, gaps: recorded } of plan) {
      gaps.push(...recorded.map((x) => ({ camera, start: x.start, end: x.end, cause: x.cause })));
      gaps.push(...(await this.unaccounted(camera, incident.from, incident.to, entries, recorded)));
    }
    gaps.sort((a, b) => a.camera.localeCompare(b.camera) || a.start - b.start);
    const opened: Incident = { ...incident, state: 'open', clips, gaps };
    await this.save(opened);
    this.opts.log.info({ incident: id, clips: clips.length, bytes: clips.reduce((n, c) => n + c.bytes, 0) }, 'incident clips cut');
    return opened;
  }

  /**
   * Spans of the range with neither footage nor a recorded gap: before the camera's oldest
   * footage, or footage a prune deleted (before the hold was placed). Listed, never papered over.
   */
  private async unaccounted(camera: string, from: number, to: number, segments: SegmentEntry[], gaps: GapEntry[]): Promise<Incident['gaps']> {
    const covered = [...segments.map((s) => [s.start, s.end]), ...gaps.map((g) => [g.start, g.end ?? to])].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
    const holes: [number, number][] = [];
    let at = from;
    for (const [start = 0, end = 0] of covered) {
      if (start - at > UNACCOUNTED_MS) holes.push([at, Math.min(start, to)]);
      at = Math.max(at, end);
    }
    if (to - at > UNACCOUNTED_MS && to <= this.opts.clock.now()) holes.push([at, to]);
    const out: Incident['gaps'] = [];
    for (const [start, end] of holes) {
      const pruned = await this.opts.store.deletedBetween(camera, start, end);
      out.push({ camera, start, end, cause: pruned ? 'pruned' : 'not-recorded' });
    }
    return out;
  }

  /** `incidents show`: the record, and the access on record (clips are archival footage). */
  async show(id: string, actor: AuditActor): Promise<Incident> {
    const incident = await this.get(id);
    await this.opts.audit({ actor, action: 'incident.show', purpose: incident.purpose, subject: id, details: { state: incident.state } });
    return incident;
  }

  async release(id: string, actor: AuditActor, note: string): Promise<Incident> {
    const incident = await this.get(id);
    if (incident.state === 'released') throw new LibcamError('conflict', `incident ${id} was released on ${iso(incident.released?.at ?? 0)}`, { id });
    this.timers.get(id)?.cancel();
    this.timers.delete(id);
    await this.cutting.get(id)?.catch(() => undefined);
    for (const hold of incident.holds) await this.opts.holds.release(hold, id);
    await rm(join(this.opts.store.root, INCIDENTS_FOLDER, id), { recursive: true, force: true });
    const entry = await this.opts.audit({ actor, action: 'incident.release', purpose: incident.purpose, subject: id, details: { note, clips: incident.clips.map((c) => c.sha256) } });
    const released: Incident = { ...(await this.get(id)), state: 'released', released: { at: this.opts.clock.now(), actor, note } };
    await this.save(released);
    await this.opts.notify(`libcam: incident ${id} released`, this.notice('released', released, entry));
    return released;
  }

  private notice(what: 'opened' | 'released', i: Incident, entry: AuditEntry): string {
    const who = (a: AuditActor): string => `${a.requestedBy ?? 'nobody named'} (requested by), run by the account "${a.user}"`;
    const lines = [
      what === 'opened'
        ? 'Recorded footage was isolated on the library camera system (policy §3: the Director is notified whenever archival data is accessed).'
        : 'An incident was released on the library camera system: its holds end and its clips are deleted; the record stays.',
      '',
      `Incident:      ${i.id}`,
      `Cameras:       ${i.cameras.join(', ')}${i.refused.length > 0 ? ` (refused, no footage: ${i.refused.map((r) => r.camera).join(', ')})` : ''}`,
      `Range:         ${iso(i.from)} to ${iso(i.to)}${i.state === 'collecting' ? ' (collecting live footage until its end)' : ''}`,
      `Purpose:       ${i.purpose}`,
      `Who:           ${who(what === 'opened' ? i.actor : (i.released?.actor ?? i.actor))}`,
      `Patron ids:    ${i.patrons.length > 0 ? i.patrons.join(', ') : 'none'}`,
      ...(what === 'released' ? [`Note:          ${i.released?.note ?? ''}`] : i.note ? [`Note:          ${i.note}`] : []),
      `Audit entry:   #${entry.seq}`,
      `Audit head:    ${anchorOf(entry)}`,
      '               (keep it: libcam audit verify --anchor with it shows the trail was not rewritten since)',
      '',
      'This message was sent automatically by libcamd.',
    ];
    return lines.join('\n');
  }
}
