import { createHash } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { parseDuration, parseSize } from '../config/units.js';
import type { Config } from '../config/types.js';
import { LibcamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PruneResult, ReceiptInfo } from '../protocol.js';
import type { Holds } from './holds.js';
import type { IndexDb } from './indexDb.js';
import type { SegmentEntry, SegmentStore } from './segments.js';

/** Deleted together: one mark batch, one unmark batch. */
const CHUNK = 1024;

export interface PruneReceipt {
  at: number;
  deleted: { segments: number; bytes: number };
  byReason: { age: number; size: number; reserve: number };
  cameras: { camera: string; segments: number; bytes: number; from: number; to: number }[];
  /** SHA-256 over `camera!start:sha256\n` of every deleted segment, in deletion order. */
  sha256: string;
}

interface Limits {
  maxAgeMs: (camera: string) => number;
  maxBytes: number | undefined;
  minFreeBytes: number;
}

function limitsOf(config: Config): Limits {
  const global = parseDuration(config.retention.maxAge) ?? Infinity;
  const perCamera = new Map(config.cameras.map((c) => [c.name, c.retention?.maxAge === undefined ? global : (parseDuration(c.retention.maxAge) ?? global)]));
  return {
    maxAgeMs: (camera) => perCamera.get(camera) ?? global,
    maxBytes: config.retention.maxBytes === undefined ? undefined : parseSize(config.retention.maxBytes),
    minFreeBytes: parseSize(config.retention.minFreeBytes) ?? 0,
  };
}

export interface PrunerOptions {
  config: Config;
  store: SegmentStore;
  holds: Holds;
  index: IndexDb;
  log: Logger;
  now?: () => number;
  /** Free bytes on the store's filesystem (injected by tests). */
  freeBytes?: () => Promise<number>;
}

/**
 * Retention (DESIGN.md): deletes the oldest segments that no hold covers until every
 * limit holds — each camera's maxAge, the store's maxBytes, the minFreeBytes reserve on
 * its filesystem — and writes a receipt of what it deleted. One prune at a time.
 */
export class Pruner {
  private running: { what: string; since: number } | undefined;
  private readonly receipts;

  constructor(private readonly opts: PrunerOptions) {
    this.receipts = opts.index.db.sublevel<string, PruneReceipt>('receipt', { valueEncoding: 'json' });
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private async freeBytes(): Promise<number> {
    if (this.opts.freeBytes) return this.opts.freeBytes();
    const fs = await statfs(this.opts.config.store.path);
    return fs.bavail * fs.bsize;
  }

  prune(dryRun: boolean): Promise<PruneResult> {
    return this.exclusive('prune', () => this.run(dryRun));
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

  private async run(dryRun: boolean): Promise<PruneResult> {
    const { store, holds, log } = this.opts;
    const limits = limitsOf(this.opts.config);
    const now = this.now();
    const isHeld = await holds.snapshot();
    const cameras = await store.cameras();
    const chosen: SegmentEntry[] = [];
    const byReason = { age: 0, size: 0, reserve: 0 };
    let held = 0;
    let inUse = 0;
    const chosenKeys = new Set<string>();
    const choose = (s: SegmentEntry, reason: keyof typeof byReason): void => {
      chosen.push(s);
      chosenKeys.add(`${s.camera}!${s.start}`);
      byReason[reason] += 1;
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

    const receipt = this.receiptOf(now, chosen, byReason);
    if (!dryRun) {
      for (const camera of cameras) {
        const mine = chosen.filter((s) => s.camera === camera);
        for (let i = 0; i < mine.length; i += CHUNK) await store.deleteSegments(camera, mine.slice(i, i + CHUNK));
      }
      if (chosen.length > 0) {
        await this.opts.index.db.batch([{ type: 'put', sublevel: this.receipts, key: String(now).padStart(15, '0'), value: receipt }], { sync: true });
      }
      log.info({ deleted: receipt.deleted, byReason, held, sha256: receipt.sha256 }, 'prune');
    }
    return {
      deleted: receipt.deleted,
      kept: { held, inUse },
      dryRun,
      byReason,
      cameras: receipt.cameras.map((c) => ({ ...c, from: new Date(c.from).toISOString(), to: new Date(c.to).toISOString() })),
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

  private receiptOf(at: number, chosen: SegmentEntry[], byReason: PruneReceipt['byReason']): PruneReceipt {
    const hash = createHash('sha256');
    const cameras = new Map<string, PruneReceipt['cameras'][number]>();
    let bytes = 0;
    for (const s of chosen) {
      hash.update(`${s.camera}!${s.start}:${s.sha256}\n`);
      bytes += s.bytes;
      const c = cameras.get(s.camera) ?? { camera: s.camera, segments: 0, bytes: 0, from: s.start, to: s.end };
      c.segments += 1;
      c.bytes += s.bytes;
      c.from = Math.min(c.from, s.start);
      c.to = Math.max(c.to, s.end);
      cameras.set(s.camera, c);
    }
    return { at, deleted: { segments: chosen.length, bytes }, byReason, cameras: [...cameras.values()], sha256: hash.digest('hex') };
  }

  async listReceipts(since = 0): Promise<PruneReceipt[]> {
    const out: PruneReceipt[] = [];
    for await (const r of this.receipts.values({ gte: String(Math.max(0, Math.round(since))).padStart(15, '0') })) out.push(r);
    return out;
  }

  /** Receipts as the socket shows them: ISO times. */
  async receiptInfos(since: string | undefined): Promise<ReceiptInfo[]> {
    const from = since === undefined ? 0 : Date.parse(since);
    if (!Number.isFinite(from)) throw new LibcamError('usage', `--since: "${since ?? ''}" is not an ISO 8601 time`, { field: 'since' });
    const iso = (ms: number): string => new Date(ms).toISOString();
    return (await this.listReceipts(from)).map((r) => ({
      at: iso(r.at),
      deleted: r.deleted,
      byReason: r.byReason,
      cameras: r.cameras.map((c) => ({ ...c, from: iso(c.from), to: iso(c.to) })),
      sha256: r.sha256,
    }));
  }
}
