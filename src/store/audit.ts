import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Serial } from '../serial.js';
import { iso, type Clock } from '../clock.js';
import { LibcamError, errnoOf } from '../errors.js';
import { ApplianceKey } from '../evidence/applianceKey.js';
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
  /** The appliance key's Ed25519 signature over `hash`, base64 (absent only on entries written before signing began). */
  sig?: string;
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

/** An entry as an anchor: `SEQ:HASH`, what the Director's mails carry and `audit verify --anchor` takes. */
export function anchorOf(entry: { seq: number; hash: string }): string {
  return `${entry.seq}:${entry.hash}`;
}

export function entryHash(entry: Omit<AuditEntry, 'hash' | 'sig'>): string {
  return createHash('sha256').update(canonicalJson(entry)).digest('hex');
}

const key_ = (seq: number): string => String(seq).padStart(15, '0');

/** Whether a stored value has the shape of an audit entry (what list and verify can show). */
function isAuditEntry(v: unknown): v is AuditEntry {
  if (typeof v !== 'object' || v === null) return false;
  const get = (k: string): unknown => Reflect.get(v, k);
  const actor = get('actor');
  const details = get('details');
  return (
    typeof get('seq') === 'number' &&
    typeof get('at') === 'string' &&
    typeof get('action') === 'string' &&
    typeof get('hash') === 'string' &&
    typeof actor === 'object' &&
    actor !== null &&
    typeof Reflect.get(actor, 'user') === 'string' &&
    typeof details === 'object' &&
    details !== null
  );
}

/** What list shows for a stored value that is not an audit entry. */
function damagedEntry(seq: number): AuditEntry {
  return { seq, at: '', actor: { user: '(unreadable)', uid: null }, action: 'damaged', purpose: null, subject: null, details: {}, prev: null, hash: '' };
}

/** A trail head copied from a mail to the Director: `SEQ:HASH`. */
export interface Anchor {
  seq: number;
  hash: string;
}

export interface AuditVerdict {
  ok: boolean;
  entries: number;
  /** The first entry that was changed, removed, inserted, moved or unsigned; null when ok. */
  brokenAt: number | null;
  /** The first problem, in words; null when ok. */
  problem: string | null;
  /** Every problem found. */
  problems: string[];
  /** Entries written before signing began (older libcamd). */
  unsigned: number;
  /** Anchors checked and found in place. */
  anchors: number;
}

/**
 * What a daemon.start entry found beside the key: the signed head of the trail as it was
 * when libcamd last wrote it. Entries up to it must still be there, unchanged.
 */
function startFound(e: AuditEntry, found: (seq: number, text: string) => void, hashes: ReadonlyMap<number, string>): void {
  const signed: unknown = Reflect.get(e.details, 'signedHead');
  if (typeof signed !== 'object' || signed === null) return;
  const seq: unknown = Reflect.get(signed, 'seq');
  const hash: unknown = Reflect.get(signed, 'hash');
  const valid: unknown = Reflect.get(signed, 'valid');
  if (typeof seq !== 'number' || typeof hash !== 'string') return;
  if (valid !== true) found(e.seq, `when libcamd started (entry ${e.seq}) the signed head was not signed by this appliance's key: replaced`);
  else if (seq >= e.seq) found(e.seq, `when libcamd started (entry ${e.seq}) the trail had reached entry ${seq} before; entries up to ${seq} were removed while it was down`);
  else if (hashes.get(seq) !== hash) found(seq, `entry ${seq} is not the one the signed head named when libcamd started (entry ${e.seq}): rewritten`);
}

/** The newest entry, signed, kept outside the index beside the key: catches a trail cut short. */
interface SignedHead {
  seq: number;
  hash: string;
  sig: string;
}

const HEAD_FILE = 'audit-head.json';
const headText = (seq: number, hash: string): string => `libcam audit head ${seq} ${hash}`;

/**
 * The audit trail (docs/design.md): append-only entries in the index, each binding its
 * sequence number, time, actor, action, purpose, subject and details to the previous
 * entry's hash, and signed with the appliance key, which lives outside the index. Binding
 * `seq` stops an entry being moved; the signature stops one being re-sealed by someone
 * without the key; the signed head beside the key catches entries cut off the end; and
 * heads copied out of the box (every Director notice, the daily digest) catch a rewrite by
 * someone who has the key too (`verify` with anchors).
 */
export class AuditTrail {
  private readonly trail;
  /** The same entries as stored text: verify and list read them one by one. */
  private readonly raw;
  private readonly meta;
  private readonly appending = new Serial();
  private key: ApplianceKey | undefined;

  constructor(
    private readonly index: IndexDb,
    private readonly log: Logger,
    private readonly clock: Clock,
    /** keys.path: the appliance key and the signed head. */
    private readonly keyDir: string,
  ) {
    this.trail = index.db.sublevel<string, AuditEntry>('audit', { valueEncoding: 'json' });
    this.raw = index.db.sublevel<string, string>('audit', { valueEncoding: 'utf8' });
    this.meta = index.db.sublevel<string, { seq: number; hash: string }>('audit-head', { valueEncoding: 'json' });
  }

  /**
   * Opens (on first start: makes) the appliance key. Returns the trail's head as the index
   * has it and the signed head as the file beside the key has it, for the daemon.start
   * entry: a trail cut short while libcamd was down shows there, and stays on record once
   * new entries follow.
   */
  async start(): Promise<{ previousHead: { seq: number; hash: string } | null; signedHead: (Anchor & { valid: boolean }) | null }> {
    this.key = await ApplianceKey.open(this.keyDir);
    const previousHead = (await this.meta.get('head')) ?? null;
    const signed = await this.readSignedHead();
    const signedHead = signed ? { seq: signed.seq, hash: signed.hash, valid: this.key.verify(headText(signed.seq, signed.hash), signed.sig) } : null;
    if (signedHead && (!signedHead.valid || signedHead.seq > (previousHead?.seq ?? 0) || (signedHead.seq === previousHead?.seq && signedHead.hash !== previousHead.hash))) {
      this.log.error({ previousHead, signedHead }, 'the audit trail does not reach its signed head: entries were removed or rewritten while libcamd was down');
    }
    return { previousHead, signedHead };
  }

  /** The appliance key, once started. */
  get appliance(): ApplianceKey {
    if (!this.key) throw new LibcamError('internal', 'the audit trail was used before its key was opened');
    return this.key;
  }

  /** Appends one entry (serialised: the chain never forks), signed, and logs it. */
  append(input: AuditInput): Promise<AuditEntry> {
    return this.appending.run(async () => {
      const key = this.appliance;
      const head = await this.meta.get('head');
      const body: Omit<AuditEntry, 'hash' | 'sig'> = {
        seq: (head?.seq ?? 0) + 1,
        at: iso(this.clock.now()),
        actor: input.actor ?? SYSTEM_ACTOR,
        action: input.action,
        purpose: input.purpose ?? null,
        subject: input.subject ?? null,
        details: input.details ?? {},
        prev: head?.hash ?? null,
      };
      const hash = entryHash(body);
      const entry: AuditEntry = { ...body, hash, sig: key.sign(hash) };
      await this.index.db.batch<string, unknown>(
        [
          { type: 'put', sublevel: this.trail, key: key_(entry.seq), value: entry },
          { type: 'put', sublevel: this.meta, key: 'head', value: { seq: entry.seq, hash: entry.hash } },
        ],
        { sync: true },
      );
      await this.writeSignedHead(entry);
      this.log.info({ audit: entry }, `audit: ${entry.action}`);
      return entry;
    });
  }

  /** Written after the index: after a crash it may lag the trail by an entry, never lead it. */
  private async writeSignedHead(entry: AuditEntry): Promise<void> {
    const head: SignedHead = { seq: entry.seq, hash: entry.hash, sig: this.appliance.sign(headText(entry.seq, entry.hash)) };
    const file = join(this.keyDir, HEAD_FILE);
    await writeFile(`${file}.new`, `${JSON.stringify(head)}\n`, { mode: 0o600 });
    await rename(`${file}.new`, file);
  }

  private async readSignedHead(): Promise<SignedHead | undefined> {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(this.keyDir, HEAD_FILE), 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && 'seq' in parsed && 'hash' in parsed && 'sig' in parsed) {
        const { seq, hash, sig } = parsed;
        if (typeof seq === 'number' && typeof hash === 'string' && typeof sig === 'string') return { seq, hash, sig };
      }
      return { seq: -1, hash: '', sig: '' };
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
      return { seq: -1, hash: '', sig: '' }; // unreadable: reported as not signed by this appliance
    }
  }

  /**
   * The stored entries, read as text and checked one by one: a value that is not an audit
   * entry (damaged, or put there by hand) is reported as such, never stops the reading.
   */
  private async *stored(): AsyncGenerator<{ key: string; entry: AuditEntry | undefined }> {
    for await (const [key, text] of this.raw.iterator()) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        value = undefined;
      }
      yield { key, entry: isAuditEntry(value) ? value : undefined };
    }
  }

  async list(filter: { since?: number; action?: string } = {}): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for await (const { key, entry } of this.stored()) {
      const e = entry ?? damagedEntry(Number(key));
      if (filter.since !== undefined && Date.parse(e.at) < filter.since) continue;
      if (filter.action !== undefined && e.action !== filter.action) continue;
      out.push(e);
    }
    return out;
  }

  /**
   * Walks the chain: every entry in its place, matching its hash, following the one before,
   * signed by this appliance's key; the signed head; and each anchor (a head copied from a
   * mail) still in the chain unchanged. Names every problem, the first one first.
   */
  async verify(anchors: readonly Anchor[] = []): Promise<AuditVerdict> {
    const key = this.appliance;
    const problems: { seq: number; text: string }[] = [];
    const found = (seq: number, text: string): void => void problems.push({ seq, text });
    const hashes = new Map<number, string>();
    let expected = 1;
    let prev: string | null = null;
    let count = 0;
    let unsigned = 0;
    let signedSeen = false;
    for await (const { key: k, entry } of this.stored()) {
      count += 1;
      if (!entry) {
        found(Number(k), `the entry stored as ${Number(k)} cannot be read as an audit entry: damaged or put there by hand`);
        expected = Number(k) + 1;
        prev = null;
        continue;
      }
      const e = entry;
      if (k !== key_(e.seq)) found(expected, `the entry stored as ${Number(k)} says it is ${e.seq}: moved`);
      else if (e.seq > expected) found(expected, `entries ${expected}${e.seq - 1 > expected ? `-${e.seq - 1}` : ''} are missing (the next is ${e.seq}): removed`);
      else if (e.seq < expected) found(e.seq, `entry ${e.seq} appears again: inserted`);
      const { hash, sig, ...body } = e;
      if (entryHash(body) !== hash) found(e.seq, `entry ${e.seq} does not match its hash: changed`);
      else if (e.prev !== prev && e.seq === expected) found(e.seq, `entry ${e.seq} does not follow entry ${e.seq - 1}: inserted, removed or re-sealed`);
      if (sig === undefined) {
        if (signedSeen) found(e.seq, `entry ${e.seq} is not signed, after signed entries: rewritten`);
        else unsigned += 1;
      } else {
        signedSeen = true;
        if (!key.verify(hash, sig)) found(e.seq, `entry ${e.seq} is not signed by this appliance's key (${key.fingerprint}): rewritten or re-sealed`);
      }
      if (e.action === 'daemon.start') startFound(e, found, hashes);
      hashes.set(e.seq, hash);
      prev = hash;
      expected = e.seq + 1;
    }
    const last = expected - 1;
    const head = await this.meta.get('head');
    if (head && (head.seq !== last || head.hash !== prev)) found(last + 1, `the trail ends at ${last} but its head says ${head.seq}: entries were cut off the end`);
    const signed = await this.readSignedHead();
    if (signed === undefined) {
      if (signedSeen) found(last + 1, `the signed head (${join(this.keyDir, HEAD_FILE)}) is missing`);
    } else if (!key.verify(headText(signed.seq, signed.hash), signed.sig)) {
      found(last + 1, `the signed head (${join(this.keyDir, HEAD_FILE)}) is not signed by this appliance's key`);
    } else if (signed.seq > last) {
      found(last + 1, `the signed head says the trail reached entry ${signed.seq}, but it ends at ${last}: entries were removed from the end`);
    } else if (hashes.get(signed.seq) !== signed.hash) {
      found(signed.seq, `entry ${signed.seq} is not the one the signed head names: rewritten`);
    }
    for (const a of anchors) {
      const now = hashes.get(a.seq);
      if (now === undefined) found(a.seq, `anchor ${a.seq}:${a.hash.slice(0, 12)}… is gone: the trail ${count === 0 ? 'is empty' : `ends at ${last}`}: entries were removed`);
      else if (now !== a.hash) found(a.seq, `anchor ${a.seq}: entry ${a.seq} now has hash ${now.slice(0, 12)}…, not the ${a.hash.slice(0, 12)}… that was mailed: the trail was rewritten`);
    }
    problems.sort((a, b) => a.seq - b.seq);
    const first = problems[0];
    return {
      ok: problems.length === 0,
      entries: count,
      brokenAt: first?.seq ?? null,
      problem: first?.text ?? null,
      problems: problems.map((p) => p.text),
      unsigned,
      anchors: anchors.length,
    };
  }
}
