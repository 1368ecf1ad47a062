import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { IndexDb } from './indexDb.js';

/** Who did it: the OS account that ran `libcam`, as the kernel names it (and the person it names), or libcamd itself. */
export interface AuditActor {
  user: string;
  uid: number | null;
  /** The process that asked (the kernel's word, like the uid). */
  pid?: number;
  /** `--requested-by`: the person on whose behalf the command ran. */
  requestedBy?: string;
}

export interface AuditEntry {
  seq: number;
  at: string;
  actor: AuditActor;
  action: string;
  purpose: string | null;
  subject: string | null;
  details: Record<string, unknown>;
  /** The previous entry's hash; null for the first entry. */
  prev: string | null;
  /** SHA-256 over the canonical JSON of every field above. */
  hash: string;
}

export type AuditInput = Pick<AuditEntry, 'action'> & Partial<Pick<AuditEntry, 'purpose' | 'subject' | 'details'>> & { actor?: AuditActor };

export const SYSTEM_ACTOR: AuditActor = { user: 'libcamd', uid: null };

/** The actor of a socket request: the caller the kernel reported, and the person named by --requested-by. */
export function auditActor(caller: { user: string; uid: number; pid: number }, requestedBy?: string): AuditActor {
  const base: AuditActor = { user: caller.user, uid: caller.uid, pid: caller.pid };
  return requestedBy === undefined ? base : { ...base, requestedBy };
}

/** JSON with object keys sorted at every level: the same entry always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function entryHash(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(entry)).digest('hex');
}

const key = (seq: number): string => String(seq).padStart(15, '0');

export interface AuditVerdict {
  ok: boolean;
  entries: number;
  /** The first entry that was changed, removed, inserted or moved; null when ok. */
  brokenAt: number | null;
  problem: string | null;
}

/**
 * The audit trail (docs/design.md): append-only entries in the index, each binding its
 * sequence number, time, actor, action, purpose, subject and details to the previous
 * entry's hash. Binding `seq` stops an entry being moved or re-sealed elsewhere; the head
 * (last seq and hash) kept beside the trail catches entries cut off the end.
 */
export class AuditTrail {
  private readonly trail;
  private readonly meta;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly index: IndexDb,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.trail = index.db.sublevel<string, AuditEntry>('audit', { valueEncoding: 'json' });
    this.meta = index.db.sublevel<string, { seq: number; hash: string }>('audit-head', { valueEncoding: 'json' });
  }

  /** Appends one entry (serialised: the chain never forks) and logs it. */
  append(input: AuditInput): Promise<AuditEntry> {
    const next = this.queue.then(async () => {
      const head = await this.meta.get('head');
      const body: Omit<AuditEntry, 'hash'> = {
        seq: (head?.seq ?? 0) + 1,
        at: new Date(this.clock.now()).toISOString(),
        actor: input.actor ?? SYSTEM_ACTOR,
        action: input.action,
        purpose: input.purpose ?? null,
        subject: input.subject ?? null,
        details: input.details ?? {},
        prev: head?.hash ?? null,
      };
      const entry: AuditEntry = { ...body, hash: entryHash(body) };
      await this.index.db.batch<string, unknown>(
        [
          { type: 'put', sublevel: this.trail, key: key(entry.seq), value: entry },
          { type: 'put', sublevel: this.meta, key: 'head', value: { seq: entry.seq, hash: entry.hash } },
        ],
        { sync: true },
      );
      this.log.info({ audit: entry }, `audit: ${entry.action}`);
      return entry;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  async list(filter: { since?: number; action?: string } = {}): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for await (const e of this.trail.values()) {
      if (filter.since !== undefined && Date.parse(e.at) < filter.since) continue;
      if (filter.action !== undefined && e.action !== filter.action) continue;
      out.push(e);
    }
    return out;
  }

  /** Walks the chain and names the first entry that does not hold. */
  async verify(): Promise<AuditVerdict> {
    let expected = 1;
    let prev: string | null = null;
    let count = 0;
    const broken = (seq: number, problem: string): AuditVerdict => ({ ok: false, entries: count, brokenAt: seq, problem });
    for await (const [k, e] of this.trail.iterator()) {
      count += 1;
      if (k !== key(e.seq)) return broken(expected, `the entry stored as ${Number(k)} says it is ${e.seq}: moved`);
      if (e.seq !== expected) {
        return e.seq > expected ? broken(expected, `entry ${expected} is missing (the next is ${e.seq}): removed`) : broken(e.seq, `entry ${e.seq} appears again: inserted`);
      }
      const { hash, ...body } = e;
      if (entryHash(body) !== hash) return broken(e.seq, `entry ${e.seq} does not match its hash: changed`);
      if (e.prev !== prev) return broken(e.seq, `entry ${e.seq} does not follow entry ${e.seq - 1}: inserted, removed or re-sealed`);
      prev = hash;
      expected += 1;
    }
    const head = await this.meta.get('head');
    if (head && (head.seq !== expected - 1 || head.hash !== prev)) {
      return broken(expected, `the trail ends at ${expected - 1} but its head says ${head.seq}: entries were cut off the end`);
    }
    return { ok: true, entries: count, brokenAt: null, problem: null };
  }
}
