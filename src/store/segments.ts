import { createHash } from 'node:crypto';
import { hashFile } from './fileHash.js';
import { open, readdir, readFile, rename, rmdir, stat, truncate, unlink } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { errnoOf } from '../errors.js';
import type { Logger } from '../log.js';
import { fsyncPath, mkdirDurable } from './fsync.js';
import { storeIdentityProblem } from './identity.js';
import type { IndexDb } from './indexDb.js';
import { scanMp4Buffer, videoCodecOf, type VideoCodec } from './mp4.js';
import { segmentEncoding, segmentFile } from './segmentCodec.js';


/** Why there is no footage of a camera for a while (a gap in the index). */
export const GAP_CAUSES = ['camera-lost', 'paused-maintenance', 'paused-privacy', 'disk-full', 'daemon-down', 'file-lost'] as const;
export type GapCause = (typeof GAP_CAUSES)[number];

/** One recorded file: times are UTC milliseconds; `prev` chains it to the camera's previous segment. */
export interface SegmentEntry {
  camera: string;
  start: number;
  end: number;
  bytes: number;
  sha256: string;
  prev: string | null;
  /** Path relative to the store. */
  file: string;
}

export interface GapEntry {
  camera: string;
  start: number;
  /** null while the gap is still open (the camera is not recording now). */
  end: number | null;
  cause: GapCause;
}

/** A segment marked for deletion, with the prune that chose it (absent: fsck, tests). */
type Marked = SegmentEntry & { pruneAt?: number };

/**
 * What one deletion round of a prune removed, written in the same batch that removes the
 * entries: a prune killed halfway still leaves a record of everything it deleted.
 */
export interface ReceiptPart {
  pruneAt: number;
  camera: string;
  segments: number;
  bytes: number;
  from: number;
  to: number;
  /** SHA-256 over `camera!start:sha256\n` of the round's segments, in order. */
  sha256: string;
}

/** The part a deletion round of these segments writes (also used to preview a dry run). */
export function receiptPart(pruneAt: number, camera: string, entries: SegmentEntry[]): ReceiptPart {
  const hash = createHash('sha256');
  for (const e of entries) hash.update(`${camera}!${e.start}:${e.sha256}\n`);
  return {
    pruneAt,
    camera,
    segments: entries.length,
    bytes: entries.reduce((sum, e) => sum + e.bytes, 0),
    from: Math.min(...entries.map((e) => e.start)),
    to: Math.max(...entries.map((e) => e.end)),
    sha256: hash.digest('hex'),
  };
}

/** The newest segment of a camera and the camera's running totals. */
export interface ChainHead {
  sha256: string;
  start: number;
  end: number;
  bytes: number;
  segments: number;
}

interface PendingEntry {
  camera: string;
  start: number;
  incoming: string;
}

const pad = (ms: number): string => String(Math.max(0, Math.round(ms))).padStart(15, '0');
/** The key of a segment (and of a gap) in its sublevel: sorts by camera, then start time. */
export const segKey = (camera: string, start: number): string => `${camera}!${pad(start)}`;
const INCOMING = '.incoming';
/** How much a range read takes from LevelDB per trip to the libuv pool: an hour of entries at once. */
const RANGE_BATCH_BYTES = 256 * 1024;

/**
 * The store of segment files and their index entries (docs/design.md, Lifecycle of a segment). A segment is
 * hashed, fsynced, renamed into `<camera>/<YYYY>/<MM>/<DD>/<startMs>.mp4`, its folder
 * fsynced, and only then indexed, in one batch written with `sync: true` that also moves
 * the camera's chain head. Work for one camera is serialised so the chain stays in order.
 */
export class SegmentStore {
  private readonly seg;
  private readonly head;
  private readonly gap;
  private readonly pending;
  /** Segments marked for deletion: marked, unlinked, folder fsynced, then unmarked with the entry. */
  private readonly deleting;
  private readonly parts;
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Files being read right now (a still, a clip, an export), with how many readers. */
  private readonly readers = new Map<string, number>();

  constructor(
    private readonly index: IndexDb,
    readonly root: string,
    private readonly log: Logger,
  ) {
    this.seg = index.db.sublevel<string, SegmentEntry>('seg', { valueEncoding: segmentEncoding });
    this.head = index.db.sublevel<string, ChainHead>('head', { valueEncoding: 'json' });
    this.gap = index.db.sublevel<string, GapEntry>('gap', { valueEncoding: 'json' });
    this.pending = index.db.sublevel<string, PendingEntry>('pending', { valueEncoding: 'json' });
    this.deleting = index.db.sublevel<string, Marked>('deleting', { valueEncoding: 'json' });
    this.parts = index.db.sublevel<string, ReceiptPart>('receipt-part', { valueEncoding: 'json' });
  }

  /**
   * Reads a segment's file under a lease: while `fn` runs, no prune, disk guard or repair
   * deletes the file (they skip it and take it next time).
   */
  async reading<T>(entry: SegmentEntry, fn: (path: string) => Promise<T>): Promise<T> {
    this.readers.set(entry.file, (this.readers.get(entry.file) ?? 0) + 1);
    try {
      return await fn(join(this.root, entry.file));
    } finally {
      const left = (this.readers.get(entry.file) ?? 1) - 1;
      if (left > 0) this.readers.set(entry.file, left);
      else this.readers.delete(entry.file);
    }
  }

  isBeingRead(entry: SegmentEntry): boolean {
    return this.readers.has(entry.file);
  }

  /** Runs `fn` after every earlier task of the same camera. */
  enqueue<T>(camera: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(camera) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    this.queues.set(camera, next.catch(() => undefined));
    return next;
  }

  incomingDir(camera: string): string {
    return join(this.root, camera, INCOMING);
  }

  finalPath(camera: string, start: number): string {
    return join(this.root, segmentFile(camera, start));
  }

  async prepare(camera: string): Promise<void> {
    await mkdirDurable(this.incomingDir(camera));
  }

  /** A fragment file was opened at `start`: remember it so a crash cannot orphan it. */
  opened(camera: string, incoming: string, start: number): Promise<void> {
    return this.enqueue(camera, () =>
      this.index.db.batch([{ type: 'put', sublevel: this.pending, key: `${camera}!${basename(incoming)}`, value: { camera, start, incoming } }], {
        sync: true,
      }),
    );
  }

  /** A fragment file was closed normally: index it. */
  closed(camera: string, incoming: string, start: number, end: number): Promise<SegmentEntry> {
    return this.enqueue(camera, async () => this.commit(camera, incoming, start, end, await hashFile(incoming)));
  }

  private async commit(
    camera: string,
    incoming: string,
    start: number,
    end: number,
    { sha256, bytes }: { sha256: string; bytes: number },
    inPlace = false,
  ): Promise<SegmentEntry> {
    const target = this.finalPath(camera, start);
    const dir = join(target, '..');
    if (!inPlace) {
      await fsyncPath(incoming);
      await mkdirDurable(dir);
      await rename(incoming, target);
    }
    await fsyncPath(dir);
    await fsyncPath(this.incomingDir(camera));
    const head = await this.head.get(camera);
    const entry: SegmentEntry = {
      camera,
      start: Math.round(start),
      end: Math.round(end),
      bytes,
      sha256,
      prev: head?.sha256 ?? null,
      file: relative(this.root, target),
    };
    const nextHead: ChainHead = {
      sha256,
      start: entry.start,
      end: entry.end,
      bytes: (head?.bytes ?? 0) + bytes,
      segments: (head?.segments ?? 0) + 1,
    };
    await this.index.db.batch<string, unknown>(
      [
        { type: 'put', sublevel: this.seg, key: segKey(camera, entry.start), value: entry },
        { type: 'put', sublevel: this.head, key: camera, value: nextHead },
        { type: 'del', sublevel: this.pending, key: `${camera}!${basename(incoming)}` },
      ],
      { sync: true },
    );
    return entry;
  }

  /**
   * Indexes what a crash or a dropped camera left half-written: each pending fragment is
   * cut back to its last complete MP4 fragment and indexed with its true duration; a
   * fragment with nothing playable is removed. Files in `.incoming` that never got a
   * pending entry (a crash right after the file was created) get their start from mtime.
   */
  recover(camera: string): Promise<SegmentEntry[]> {
    // Marks a crash left are not this method's business: a deletion round runs whole in
    // the camera's queue, and start-up's finishAllDeletions completes crashed ones before
    // any camera starts.
    return this.enqueue(camera, async () => {
      const recovered: SegmentEntry[] = [];
      const known = new Set<string>();
      for await (const [key, entry] of this.pending.iterator({ gt: `${camera}!`, lt: `${camera}!~` })) {
        known.add(basename(entry.incoming));
        const done = await this.recoverOne(camera, entry.incoming, () => Promise.resolve(entry.start), key);
        if (done) recovered.push(done);
      }
      let strays: string[] = [];
      try {
        strays = (await readdir(this.incomingDir(camera))).filter((f) => !known.has(f)).sort();
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw err;
      }
      for (const name of strays) {
        const file = join(this.incomingDir(camera), name);
        // No pending entry: the start is the file's last write less its length, but never
        // before the camera's footage so far ends (an estimate must not overlap a segment).
        const done = await this.recoverOne(camera, file, async (durationMs) => Math.max((await this.head.get(camera))?.end ?? 0, (await stat(file)).mtimeMs - durationMs));
        if (done) recovered.push(done);
      }
      return recovered;
    });
  }

  private async recoverOne(
    camera: string,
    incoming: string,
    startOf: (durationMs: number) => Promise<number>,
    pendingKey?: string,
  ): Promise<SegmentEntry | undefined> {
    let data: Buffer;
    let inPlace = false;
    try {
      data = await readFile(incoming);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      // A crash between the rename and the index batch leaves the file in place, unindexed.
      const start = pendingKey ? await startOf(0) : undefined;
      const placed = start === undefined ? undefined : await readFile(this.finalPath(camera, start)).catch(() => undefined);
      const indexed = start === undefined ? undefined : await this.seg.get(segKey(camera, Math.round(start)));
      if (!placed || indexed) {
        if (pendingKey) await this.index.db.batch([{ type: 'del', sublevel: this.pending, key: pendingKey }], { sync: true });
        return undefined;
      }
      data = placed;
      inPlace = true;
    }
    const scan = scanMp4Buffer(data);
    if (scan.fragments === 0) {
      await unlink(incoming);
      if (pendingKey) await this.index.db.batch([{ type: 'del', sublevel: this.pending, key: pendingKey }], { sync: true });
      this.log.warn({ camera, file: incoming, bytes: data.length }, 'removed a cut-short segment with no playable fragment');
      return undefined;
    }
    const start = await startOf(scan.durationMs);
    if (scan.playableBytes < data.length) {
      await truncate(inPlace ? this.finalPath(camera, start) : incoming, scan.playableBytes);
      data = data.subarray(0, scan.playableBytes);
    }
    const digest = { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
    const entry = await this.commit(camera, incoming, start, start + scan.durationMs, digest, inPlace);
    this.log.info({ camera, start: new Date(entry.start).toISOString(), durationMs: Math.round(scan.durationMs) }, 'indexed a cut-short segment');
    return entry;
  }

  /** The video codec of the camera's newest segment, read from its file's header. */
  async lastCodec(camera: string): Promise<VideoCodec | undefined> {
    const head = await this.head.get(camera);
    if (!head) return undefined;
    const entry = await this.seg.get(segKey(camera, head.start));
    if (!entry) return undefined;
    try {
      const file = await open(join(this.root, entry.file));
      try {
        const buf = Buffer.alloc(64 * 1024);
        const { bytesRead } = await file.read(buf, 0, buf.length, 0);
        return videoCodecOf(buf.subarray(0, bytesRead));
      } finally {
        await file.close();
      }
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Deletes segments of one camera crash-safely (docs/design.md): mark them in one synced
   * batch, unlink the files, fsync their folders, then remove entries and marks and
   * lower the camera's totals in one synced batch. A crash in between leaves marks that
   * `finishDeletions` completes. The chain head keeps its hash: the chain goes on.
   *
   * Which segments may go is decided here, in the camera's queue, at the moment of
   * deletion: `heldNow` is asked for the holds as they are now (holds are placed in the
   * same queue), and a segment a reader has leased since the plan is skipped.
   */
  deleteSegments(
    camera: string,
    entries: SegmentEntry[],
    opts: { pruneAt?: number; heldNow: () => Promise<(camera: string, start: number, end: number) => boolean> },
  ): Promise<{ deleted: number; held: SegmentEntry[]; inUse: SegmentEntry[] }> {
    if (entries.length === 0) return Promise.resolve({ deleted: 0, held: [], inUse: [] });
    return this.enqueue(camera, async () => {
      const isHeld = await opts.heldNow();
      const held: SegmentEntry[] = [];
      const inUse: SegmentEntry[] = [];
      const marked: Marked[] = [];
      for (const e of entries) {
        if (isHeld(camera, e.start, e.end)) held.push(e);
        else if (this.isBeingRead(e)) inUse.push(e);
        else marked.push(opts.pruneAt === undefined ? e : { ...e, pruneAt: opts.pruneAt });
      }
      if (marked.length > 0) {
        await this.index.db.batch(
          marked.map((e) => ({ type: 'put' as const, sublevel: this.deleting, key: segKey(camera, e.start), value: e })),
          { sync: true },
        );
        await this.unlinkAndUnmark(camera, marked);
      }
      return { deleted: marked.length, held, inUse };
    });
  }

  private async unlinkAndUnmark(camera: string, entries: Marked[]): Promise<void> {
    const dirs = new Set<string>();
    // A few unlinks in flight at once: each is a round trip through libuv's pool, and the
    // pool has spare threads beyond the cameras' (main.cts).
    const UNLINKS_IN_FLIGHT = 4;
    for (let i = 0; i < entries.length; i += UNLINKS_IN_FLIGHT) {
      await Promise.all(
        entries.slice(i, i + UNLINKS_IN_FLIGHT).map(async (e) => {
          const file = join(this.root, e.file);
          dirs.add(join(file, '..'));
          await unlink(file).catch((err: unknown) => {
            if (errnoOf(err) !== 'ENOENT') throw err;
          });
        }),
      );
    }
    // The unlinks must be durable before the marks go: an error here leaves the marks, and
    // finishDeletions (start-up, fsck --repair) completes them later.
    for (const dir of dirs) await fsyncPath(dir);
    // Day, month and year folders left empty go too, so the tree does not grow forever. A
    // folder that comes back after a power cut is harmless: nothing here is for the marks.
    for (const dir of dirs) {
      for (let d = dir, depth = 0; depth < 3; d = join(d, '..'), depth += 1) {
        const removed = await rmdir(d).then(
          () => true,
          () => false,
        );
        if (!removed) break;
        await fsyncPath(join(d, '..')).catch((err: unknown) => this.log.warn({ err, dir: d }, 'cannot fsync a folder after removing an empty one'));
      }
    }
    const head = await this.head.get(camera);
    const batch = this.index.db.batch();
    // A mark and its entry are removed in the same batch, so every marked segment is
    // still indexed here: the totals go down by exactly these.
    let bytes = 0;
    const count = entries.length;
    for (const e of entries) {
      bytes += e.bytes;
      batch.del(segKey(camera, e.start), { sublevel: this.seg });
      batch.del(segKey(camera, e.start), { sublevel: this.deleting });
    }
    if (head) {
      batch.put(camera, { ...head, bytes: Math.max(0, head.bytes - bytes), segments: Math.max(0, head.segments - count) }, { sublevel: this.head });
    }
    const byPrune = new Map<number, SegmentEntry[]>();
    for (const e of entries) if (e.pruneAt !== undefined) byPrune.set(e.pruneAt, [...(byPrune.get(e.pruneAt) ?? []), e]);
    for (const [pruneAt, round] of byPrune) {
      const part = receiptPart(pruneAt, camera, round);
      batch.put(`${pad(pruneAt)}!${camera}!${pad(part.from)}`, part, { sublevel: this.parts });
    }
    await batch.write({ sync: true });
  }

  /** Completes deletions a crash interrupted; returns how many segments they held. */
  finishDeletions(camera: string): Promise<number> {
    return this.enqueue(camera, async () => {
      const marked: Marked[] = [];
      for await (const e of this.deleting.values({ gt: `${camera}!`, lt: `${camera}!~` })) marked.push(e);
      if (marked.length > 0) await this.unlinkAndUnmark(camera, marked);
      return marked.length;
    });
  }

  /**
   * Start-up, before any camera records: completes every deletion a crash interrupted,
   * for all cameras in the index, configured and enabled or not.
   */
  async finishAllDeletions(): Promise<number> {
    const cameras = new Set<string>();
    for await (const e of this.deleting.values()) cameras.add(e.camera);
    let total = 0;
    for (const camera of cameras) total += await this.finishDeletions(camera);
    if (total > 0) this.log.info({ segments: total }, 'completed deletions a crash had interrupted');
    return total;
  }

  /** Segments marked for deletion right now (a prune in progress, or one a crash cut short). */
  async markedForDeletion(): Promise<SegmentEntry[]> {
    const out: SegmentEntry[] = [];
    for await (const e of this.deleting.values()) out.push(e);
    return out;
  }

  /** Receipt parts of prunes from `since` on, in key order (prune, camera, time). */
  async receiptParts(since = 0): Promise<ReceiptPart[]> {
    return this.parts.values({ gte: pad(since) }).all();
  }

  /** The entry of the segment of `camera` that starts at `start`, if indexed. */
  entryAt(camera: string, start: number): Promise<SegmentEntry | undefined> {
    return this.seg.get(segKey(camera, start));
  }

  /** Every camera the index has segments or a chain for. */
  async cameras(): Promise<string[]> {
    const names: string[] = [];
    for await (const name of this.head.keys()) names.push(name);
    return names;
  }

  /**
   * fsck --repair: removes the entry of `camera` starting at `start` and records the hole
   * as a file-lost gap — only if, in the camera's queue (no commit or deletion meanwhile),
   * the entry is still there, its file is really gone, and no hold covers it.
   */
  forgetIfLost(camera: string, start: number, isHeld: (entry: SegmentEntry) => Promise<boolean>): Promise<'forgotten' | 'held' | 'present' | 'gone'> {
    return this.enqueue(camera, async () => {
      const entry = await this.seg.get(segKey(camera, start));
      if (!entry) return 'gone';
      const present = await stat(join(this.root, entry.file)).then(
        () => true,
        (err: unknown) => {
          if (errnoOf(err) === 'ENOENT') return false;
          throw err;
        },
      );
      if (present) return 'present';
      if (await isHeld(entry)) return 'held';
      const head = await this.head.get(camera);
      const gap: GapEntry = { camera, start: entry.start, end: entry.end, cause: 'file-lost' };
      const batch = this.index.db.batch();
      batch.del(segKey(camera, entry.start), { sublevel: this.seg });
      batch.put(segKey(camera, entry.start), gap, { sublevel: this.gap });
      if (head) {
        batch.put(camera, { ...head, bytes: Math.max(0, head.bytes - entry.bytes), segments: Math.max(0, head.segments - 1) }, { sublevel: this.head });
      }
      await batch.write({ sync: true });
      return 'forgotten';
    });
  }

  /**
   * The camera's head and an iterator over its entries, both as they are at one moment:
   * taken in the camera's queue (no commit or deletion between them), and the iterator
   * reads a snapshot of the index however long it is walked.
   */
  snapshot(camera: string): Promise<{ head: ChainHead | undefined; entries: AsyncIterable<SegmentEntry> }> {
    return this.enqueue(camera, async () => {
      const head = await this.head.get(camera);
      return { head, entries: this.seg.values({ gt: `${camera}!`, lt: `${camera}!~` }) };
    });
  }

  /** Whether a prune round or a file-lost gap of the camera lies within (from, to): footage that was there and went. */
  async deletedBetween(camera: string, from: number, to: number): Promise<boolean> {
    for await (const p of this.parts.values()) if (p.camera === camera && p.from < to && p.to > from) return true;
    for await (const g of this.gap.values({ gt: `${camera}!`, lt: segKey(camera, to) })) if (g.cause === 'file-lost' && (g.end ?? Infinity) > from) return true;
    return false;
  }

  /** fsck --repair: counts the camera's segments and bytes again into its head (the hash stays). */
  recountHead(camera: string): Promise<void> {
    return this.enqueue(camera, async () => {
      const head = await this.head.get(camera);
      if (!head) return;
      let segments = 0;
      let bytes = 0;
      for await (const s of this.seg.values({ gt: `${camera}!`, lt: `${camera}!~` })) {
        segments += 1;
        bytes += s.bytes;
      }
      await this.index.db.batch([{ type: 'put', sublevel: this.head, key: camera, value: { ...head, segments, bytes } }], { sync: true });
    });
  }

  /** What is wrong with the store folder's identity, if anything (invariant 7). */
  identityProblem(): Promise<string | undefined> {
    return storeIdentityProblem(this.index, this.root);
  }

  async chainHead(camera: string): Promise<ChainHead | undefined> {
    return this.head.get(camera);
  }

  async totalBytes(): Promise<number> {
    let total = 0;
    for await (const head of this.head.values()) total += head.bytes;
    return total;
  }

  /** The camera's gap that is still open, if any. */
  async openGap(camera: string): Promise<GapEntry | undefined> {
    for await (const gap of this.gap.values({ gt: `${camera}!`, lt: `${camera}!~`, reverse: true, limit: 1 })) {
      if (gap.end === null) return gap;
    }
    return undefined;
  }

  async beginGap(camera: string, start: number, cause: GapCause): Promise<GapEntry> {
    const gap: GapEntry = { camera, start: Math.round(start), end: null, cause };
    await this.index.db.batch([{ type: 'put', sublevel: this.gap, key: segKey(camera, gap.start), value: gap }], { sync: true });
    return gap;
  }

  async endGap(gap: GapEntry, end: number): Promise<void> {
    const closed: GapEntry = { ...gap, end: Math.max(gap.start, Math.round(end)) };
    await this.index.db.batch([{ type: 'put', sublevel: this.gap, key: segKey(gap.camera, gap.start), value: closed }], { sync: true });
  }

  /** Segments (at most `limit`) and gaps of one camera that overlap [from, to). */
  async range(camera: string, from: number, to: number, limit = Infinity): Promise<{ segments: SegmentEntry[]; gaps: GapEntry[]; truncated: boolean }> {
    const segments: SegmentEntry[] = [];
    let truncated = false;
    // Four reads, made at once (each waits on LevelDB in the libuv pool; one after another
    // their waits added up: BENCHMARKS.md, Store). Only the last segment that started
    // before `from` can overlap it: one step back. A camera's gaps follow one another, so
    // only the last gaps that started before `from` can reach into the range: a few steps
    // back (not a scan of the camera's whole history), then forward. all() fetches in
    // large batches: several times faster than iterating one by one. An hour is 360
    // entries (~63 KB): with classic-level's default 16 KiB per batch that was four
    // trips to the libuv pool, with RANGE_BATCH_BYTES one (BENCHMARKS.md, Store).
    // (highWaterMarkBytes is classic-level's own option, which abstract-level's types do not list.)
    const inRange = { gte: segKey(camera, from), lt: segKey(camera, to), limit: Number.isFinite(limit) ? limit + 2 : -1, highWaterMarkBytes: RANGE_BATCH_BYTES };
    const [before, found, earlier, later] = await Promise.all([
      this.seg.values({ gt: `${camera}!`, lt: segKey(camera, from), reverse: true, limit: 1 }).all(),
      this.seg.values(inRange).all(),
      this.gap.values({ gt: `${camera}!`, lt: segKey(camera, from), reverse: true, limit: 4 }).all(),
      this.gap.values({ gte: segKey(camera, from), lt: segKey(camera, to) }).all(),
    ]);
    const overlapping = before[0] && before[0].end > from ? [before[0]] : [];
    for (const s of [...overlapping, ...found]) {
      if (s.end <= from) continue;
      if (segments.length >= limit) {
        truncated = true;
        break;
      }
      segments.push(s);
    }
    const gaps = earlier.reverse().filter((g) => (g.end ?? Number.POSITIVE_INFINITY) > from);
    gaps.push(...later);
    return { segments, gaps, truncated };
  }

  /**
   * Footage of one camera around an instant: the segment holding it, else the nearest
   * segment before and after it and the gap it falls in, if one is recorded.
   */
  async around(camera: string, at: number): Promise<{ holding?: SegmentEntry; before?: SegmentEntry; after?: SegmentEntry; gap?: GapEntry }> {
    const [before] = await this.seg.values({ gt: `${camera}!`, lte: segKey(camera, at), reverse: true, limit: 1 }).all();
    if (before && before.end > at) return { holding: before };
    const [after] = await this.seg.values({ gt: segKey(camera, at), lt: `${camera}!~`, limit: 1 }).all();
    const [gap] = await this.gap.values({ gt: `${camera}!`, lte: segKey(camera, at), reverse: true, limit: 1 }).all();
    const inGap = gap && (gap.end ?? Number.POSITIVE_INFINITY) > at ? gap : undefined;
    return { before, after, gap: inGap };
  }

  /** Every segment of a camera in time order (for checks and tests). */
  async *segmentsOf(camera: string): AsyncGenerator<SegmentEntry> {
    yield* this.seg.values({ gt: `${camera}!`, lt: `${camera}!~` });
  }
}
