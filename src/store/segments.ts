import { createHash } from 'node:crypto';
import { open, readdir, readFile, rename, stat, truncate, unlink } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { errnoOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { GapCause } from '../protocol.js';
import { fsyncPath, mkdirDurable } from './fsync.js';
import type { IndexDb } from './indexDb.js';
import { scanMp4Buffer, videoCodecOf, type VideoCodec } from './mp4.js';


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
const segKey = (camera: string, start: number): string => `${camera}!${pad(start)}`;
const INCOMING = '.incoming';

/**
 * The store of segment files and their index entries (DESIGN.md, Store). A segment is
 * hashed, fsynced, renamed into `<camera>/<YYYY>/<MM>/<DD>/<startMs>.mp4`, its folder
 * fsynced, and only then indexed, in one batch written with `sync: true` that also moves
 * the camera's chain head. Work for one camera is serialised so the chain stays in order.
 */
export class SegmentStore {
  private readonly seg;
  private readonly head;
  private readonly gap;
  private readonly pending;
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly index: IndexDb,
    readonly root: string,
    private readonly log: Logger,
  ) {
    this.seg = index.db.sublevel<string, SegmentEntry>('seg', { valueEncoding: 'json' });
    this.head = index.db.sublevel<string, ChainHead>('head', { valueEncoding: 'json' });
    this.gap = index.db.sublevel<string, GapEntry>('gap', { valueEncoding: 'json' });
    this.pending = index.db.sublevel<string, PendingEntry>('pending', { valueEncoding: 'json' });
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
    const d = new Date(start);
    const two = (n: number): string => String(n).padStart(2, '0');
    return join(this.root, camera, String(d.getUTCFullYear()), two(d.getUTCMonth() + 1), two(d.getUTCDate()), `${Math.round(start)}.mp4`);
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
    return this.enqueue(camera, async () => this.commit(camera, incoming, start, end, await readFile(incoming)));
  }

  private async commit(camera: string, incoming: string, start: number, end: number, data: Buffer): Promise<SegmentEntry> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    await fsyncPath(incoming);
    const target = this.finalPath(camera, start);
    const dir = join(target, '..');
    await mkdirDurable(dir);
    await rename(incoming, target);
    await fsyncPath(dir);
    await fsyncPath(this.incomingDir(camera));
    const head = await this.head.get(camera);
    const entry: SegmentEntry = {
      camera,
      start: Math.round(start),
      end: Math.round(end),
      bytes: data.length,
      sha256,
      prev: head?.sha256 ?? null,
      file: relative(this.root, target),
    };
    const nextHead: ChainHead = {
      sha256,
      start: entry.start,
      end: entry.end,
      bytes: (head?.bytes ?? 0) + data.length,
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
        const done = await this.recoverOne(camera, file, async (durationMs) => (await stat(file)).mtimeMs - durationMs);
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
    try {
      data = await readFile(incoming);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      if (pendingKey) await this.index.db.batch([{ type: 'del', sublevel: this.pending, key: pendingKey }], { sync: true });
      return undefined;
    }
    const scan = scanMp4Buffer(data);
    if (scan.fragments === 0) {
      await unlink(incoming);
      if (pendingKey) await this.index.db.batch([{ type: 'del', sublevel: this.pending, key: pendingKey }], { sync: true });
      this.log.warn({ camera, file: incoming, bytes: data.length }, 'removed a cut-short segment with no playable fragment');
      return undefined;
    }
    if (scan.playableBytes < data.length) {
      await truncate(incoming, scan.playableBytes);
      data = data.subarray(0, scan.playableBytes);
    }
    const start = await startOf(scan.durationMs);
    const entry = await this.commit(camera, incoming, start, start + scan.durationMs, data);
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
    // A segment that started up to an hour before `from` may still overlap it.
    for await (const s of this.seg.values({ gte: segKey(camera, from - 3_600_000), lt: segKey(camera, to) })) {
      if (s.end <= from) continue;
      if (segments.length >= limit) {
        truncated = true;
        break;
      }
      segments.push(s);
    }
    const gaps: GapEntry[] = [];
    for await (const g of this.gap.values({ gt: `${camera}!`, lt: segKey(camera, to) })) {
      if ((g.end ?? Number.POSITIVE_INFINITY) > from) gaps.push(g);
    }
    return { segments, gaps, truncated };
  }

  /** Every segment of a camera in time order (for checks and tests). */
  async *segmentsOf(camera: string): AsyncGenerator<SegmentEntry> {
    yield* this.seg.values({ gt: `${camera}!`, lt: `${camera}!~` });
  }
}
