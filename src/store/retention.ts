import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { statfs } from 'node:fs/promises';
import { LibcamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AuditActor, AuditInput } from './audit.js';
import type { Holds } from './holds.js';
import type { IndexDb } from './indexDb.js';
import { receiptPart, type ReceiptPart, type SegmentEntry, type SegmentStore } from './segments.js';

/** Deleted together: one mark batch, one unmark batch. */
const CHUNK = 1024;

export interface PruneReceipt {
  at: number;
  deleted: { segments: number; bytes: number };
  /** Null for a prune a crash cut short: its reasons were not recorded, its deletions were. */
  byReason: { age: number; size: number; reserve: number } | null;
  cameras: { camera: string; segments: number; bytes: number; from: number; to: number }[];
  /**
   * The receipt's fingerprint: SHA-256 over its rounds' SHA-256s (hex, one per line, in
   * camera and time order), each round's over `camera!start:sha256\n` of its segments.
   */
  sha256: string;
  /** The prune was killed before it finished; this is what it had deleted. */
  interrupted: boolean;
}

/** Sums receipt parts (one prune's rounds, in key order) into a receipt. */
export function receiptFrom(at: number, parts: ReceiptPart[], byReason: PruneReceipt['byReason'], interrupted: boolean): PruneReceipt {
  const cameras = new Map<string, PruneReceipt['cameras'][number]>();
  const fingerprint = createHash('sha256');
  let segments = 0;
  let bytes = 0;
  for (const p of parts) {
    fingerprint.update(`${p.sha256}\n`);
    segments += p.segments;
    bytes += p.bytes;
    const c = cameras.get(p.camera) ?? { camera: p.camera, segments: 0, bytes: 0, from: p.from, to: p.to };
    c.segments += p.segments;
    c.bytes += p.bytes;
    c.from = Math.min(c.from, p.from);
    c.to = Math.max(c.to, p.to);
    cameras.set(p.camera, c);
  }
  return { at, deleted: { segments, bytes }, byReason, cameras: [...cameras.values()], sha256: fingerprint.digest('hex'), interrupted };
}

/** What retention keeps, resolved from the configuration by the daemon. */
export interface RetentionLimits {
  /** How long a camera's footage is kept (its own maxAge, else the store's). */
  maxAgeMs: (camera: string) => number;
  maxBytes?: number | undefined;
  minFreeBytes: number;
}

/** What a prune did (or, dry, would do). Times are UTC milliseconds. */
export interface PruneOutcome {
  deleted: { segments: number; bytes: number };
  /** Segments retention would have deleted but a hold keeps, or a reader is using now. */
  kept: { held: number; inUse: number };
  dryRun: boolean;
  byReason: { age: number; size: number; reserve: number };
  cameras: { camera: string; segments: number; bytes: number; from: number; to: number }[];
  /** The receipt's fingerprint. */
  receiptSha256: string;
}

export interface PrunerOptions {
  limits: RetentionLimits;
  /** The store's folder: its filesystem's free space is what minFreeBytes keeps. */
  storePath: string;
  store: SegmentStore;
  holds: Holds;
  index: IndexDb;
  log: Logger;
  clock: Clock;
  /** Free bytes on the store's filesystem (injected by tests). */
  freeBytes?: () => Promise<number>;
  /** Records each prune that deleted something in the audit trail. */
  audit?: (input: AuditInput) => Promise<unknown>;
}

/**
 * Retention (docs/design.md, lifecycle step 4): deletes the oldest segments that no hold covers until every
 * limit holds — each camera's maxAge, the store's maxBytes, the minFreeBytes reserve on
 * its filesystem — and writes a receipt of what it deleted. One prune at a time.
 */
export class Pruner {
  private running: { what: string; since: number } | undefined;
  /** The last prune's id (its start time, made unique): receipts and their parts are keyed by it. */
  private lastId = 0;
  private readonly receipts;

  constructor(private readonly opts: PrunerOptions) {
    this.receipts = opts.index.db.sublevel<string, PruneReceipt>('receipt', { valueEncoding: 'json' });
  }

  private now(): number {
    return this.opts.clock.now();
  }

  private async freeBytes(): Promise<number> {
    if (this.opts.freeBytes) return this.opts.freeBytes();
    const fs = await statfs(this.opts.storePath);
    return fs.bavail * fs.bsize;
  }

  prune(dryRun: boolean, actor?: AuditActor): Promise<PruneOutcome> {
    return this.exclusive('prune', async () => {
      const result = await this.run(dryRun);
      if (!dryRun && result.deleted.segments > 0) {
        await this.opts.audit?.({ actor, action: 'prune', details: { deleted: result.deleted, byReason: result.byReason, cameras: result.cameras, receiptSha256: result.receiptSha256 } });
      }
      return result;
    });
  }

  /**
   * Runs `fn` unless a prune or an fsck is running: they would see each other's half-done
   * work (a file unlinked between fsck's index scan and its walk of the folders).
   */
  async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.running !== undefined) {
      const { what: other, since } = this.running;
      throw new LibcamError('conflict', `${other === what ? `a ${what} is already running` : `a ${other} is running`} (since ${new Date(since).toISOString()}); try again when it has finished`);
    }
    this.running = { what, since: this.now() };
    try {
      return await fn();
    } finally {
      this.running = undefined;
    }
  }

  private async run(dryRun: boolean): Promise<PruneOutcome> {
    const { store, holds, log, limits } = this.opts;
    const now = this.now();
    const isHeld = await holds.snapshot();
    const cameras = await store.cameras();
    const chosen: SegmentEntry[] = [];
    const byReason = { age: 0, size: 0, reserve: 0 };
    let held = 0;
    let inUse = 0;
    const chosenKeys = new Map<string, keyof typeof byReason>();
    const choose = (s: SegmentEntry, reason: keyof typeof byReason): void => {
      chosen.push(s);
      chosenKeys.set(`${s.camera}!${s.start}`, reason);
      byReason[reason] += 1;
    };
    const unchoose = (s: SegmentEntry): void => {
      const reason = chosenKeys.get(`${s.camera}!${s.start}`);
      if (reason) byReason[reason] -= 1;
    };

    // 1. Age, per camera: everything that ended before its camera's horizon.
    for (const camera of cameras) {
      const horizon = now - limits.maxAgeMs(camera);
      for await (const s of store.segmentsOf(camera)) {
        if (s.start >= horizon) break;
        if (s.end > horizon) continue;
        if (isHeld(camera, s.start, s.end)) held += 1;
        else if (store.isBeingRead(s)) inUse += 1;
        else choose(s, 'age');
      }
    }

    // 2. Size and 3. reserve: the oldest footage of any camera first.
    let total = (await store.totalBytes()) - chosen.reduce((sum, s) => sum + s.bytes, 0);
    let free = (await this.freeBytes()) + chosen.reduce((sum, s) => sum + s.bytes, 0);
    const overSize = (): boolean => limits.maxBytes !== undefined && total > limits.maxBytes;
    const underReserve = (): boolean => free < limits.minFreeBytes;
    if (overSize() || underReserve()) {
      for await (const s of this.oldestFirst(cameras)) {
        if (!overSize() && !underReserve()) break;
        if (chosenKeys.has(`${s.camera}!${s.start}`)) continue;
        if (isHeld(s.camera, s.start, s.end)) {
          held += 1;
          continue;
        }
        if (store.isBeingRead(s)) {
          inUse += 1;
          continue;
        }
        choose(s, overSize() ? 'size' : 'reserve');
        total -= s.bytes;
        free += s.bytes;
      }
    }

    const id = Math.max(now, this.lastId + 1);
    if (!dryRun) this.lastId = id;
    // Rounds per camera in time order: the parts a real prune writes, or would write.
    const rounds: { camera: string; entries: SegmentEntry[] }[] = [];
    for (const camera of [...cameras].sort()) {
      const mine = chosen.filter((s) => s.camera === camera).sort((a, b) => a.start - b.start);
      for (let i = 0; i < mine.length; i += CHUNK) rounds.push({ camera, entries: mine.slice(i, i + CHUNK) });
    }
    let receipt: PruneReceipt;
    if (dryRun) {
      receipt = receiptFrom(id, rounds.map((r) => receiptPart(id, r.camera, r.entries)), byReason, false);
    } else {
      // Holds placed since the plan, and readers who started since, keep their segments.
      for (const round of rounds) {
        const done = await store.deleteSegments(round.camera, round.entries, { pruneAt: id, heldNow: () => holds.snapshot() });
        held += done.held.length;
        inUse += done.inUse.length;
        for (const s of [...done.held, ...done.inUse]) unchoose(s);
      }
      const parts = (await store.receiptParts(id)).filter((p) => p.pruneAt === id);
      receipt = receiptFrom(id, parts, byReason, false);
      if (parts.length > 0) {
        await this.opts.index.db.batch([{ type: 'put', sublevel: this.receipts, key: String(id).padStart(15, '0'), value: receipt }], { sync: true });
      }
      log.info({ deleted: receipt.deleted, byReason, held, inUse, sha256: receipt.sha256 }, 'prune');
    }
    return {
      deleted: receipt.deleted,
      kept: { held, inUse },
      dryRun,
      byReason,
      cameras: receipt.cameras,
      receiptSha256: receipt.sha256,
    };
  }

  /** All segments of all cameras, oldest start first (a k-way merge of per-camera scans). */
  private async *oldestFirst(cameras: string[]): AsyncGenerator<SegmentEntry> {
    const iterators = cameras.map((c) => this.opts.store.segmentsOf(c));
    const heads = await Promise.all(iterators.map((it) => it.next()));
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i += 1) {
        const h = heads[i];
        const b = best >= 0 ? heads[best] : undefined;
        if (h && !h.done && (!b || b.done || h.value.start < b.value.start)) best = i;
      }
      const winner = heads[best];
      const it = iterators[best];
      if (best < 0 || !winner || winner.done || !it) return;
      yield winner.value;
      heads[best] = await it.next();
    }
  }

  /** Finished prunes' receipts, and for prunes a crash cut short, what their parts show. */
  async listReceipts(since = 0): Promise<PruneReceipt[]> {
    const from = String(Math.max(0, Math.round(since))).padStart(15, '0');
    const finished = new Map<number, PruneReceipt>();
    for await (const r of this.receipts.values({ gte: from })) finished.set(r.at, r);
    const partsByPrune = new Map<number, ReceiptPart[]>();
    for (const p of await this.opts.store.receiptParts(since)) {
      if (!finished.has(p.pruneAt)) partsByPrune.set(p.pruneAt, [...(partsByPrune.get(p.pruneAt) ?? []), p]);
    }
    const cut = [...partsByPrune].map(([at, parts]) => receiptFrom(at, parts, null, true));
    return [...finished.values(), ...cut].sort((a, b) => a.at - b.at);
  }
}
