import { open, unlink, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { willNeed } from '../os/libc.js';
import { LibcamError } from '../errors.js';
import { childBox, descend, mp4Boxes, type Mp4Box as Box } from '../store/mp4.js';

/**
 * Clips without re-encoding: the fragmented MP4 segments of one camera joined into one
 * file by rewriting boxes, never touching a sample's bytes.
 *
 * Each segment (as splitmuxsink + mp4mux write it) is ftyp, moov (an empty sample table
 * and mvex), then moof+mdat fragments whose decode times start at 0. The clip is the first
 * segment's ftyp and moov (the duration filled in), then every kept sample in fragments
 * rebuilt with explicit sizes, durations and flags, each fragment's decode time moved to
 * where its segment lies on the camera's timeline (the index's start time): back-to-back
 * segments continue exactly where the last sample ended; a gap in the footage stays a gap
 * in the timestamps (no frozen frame spread over it). The clip starts at the keyframe at or
 * before `from` (players that ignore edit lists would show extra frames otherwise) and
 * ends with the last sample that begins before `to`.
 *
 * Measured against the alternatives with GStreamer 1.22 here: splitmuxsrc misplaces the
 * first GOP of each later fragmented part; concat ! qtdemux ! h264parse ! mp4mux times
 * correctly but h264parse writes SPS/PPS into keyframes, so the samples are no longer the
 * recorded bytes; both squeeze gaps out.
 */
export interface ClipSource {
  /** The segment file's path. */
  path: string;
  /** The segment's start and end on the camera's timeline, UTC ms (the index's). */
  start: number;
  end: number;
}

export interface ClipPart {
  path: string;
  /** The first kept sample's time and the last one's end, UTC ms. */
  start: number;
  end: number;
  bytes: number;
  sha256: string;
  samples: number;
}

const NON_SYNC = 0x10000; // sample_is_non_sync_sample in the sample flags

interface Sample {
  /** Decode time in the segment, in the track's timescale. */
  dts: bigint;
  duration: number;
  size: number;
  flags: number;
  cts: number;
  /** Where its bytes are in the segment file. */
  offset: number;
}

interface Segment {
  ftyp: Buffer;
  moov: Buffer;
  /** The stream's description — codec, picture size, decoder configuration: a clip holds samples of one only. */
  codec: string;
  timescale: number;
  movieTimescale: number;
  trackId: number;
  samples: Sample[];
}

const u32 = (buf: Buffer, at: number): number => buf.readUInt32BE(at);

/** Reads one segment file's structure: the moov and every sample of its fragments. */
function parseSegment(buf: Buffer, path: string): Segment {
  const top = [...mp4Boxes(buf, 0, buf.length, true)];
  const ftyp = top.find((b) => b.type === 'ftyp');
  const moov = top.find((b) => b.type === 'moov');
  const bad = (why: string): LibcamError => new LibcamError('io', `cannot cut a clip from ${path}: ${why}`, { file: path });
  if (!ftyp || !moov) throw bad('no ftyp or moov box');
  const mdhd = descend(buf, moov, ['trak', 'mdia', 'mdhd'], true);
  const mvhd = childBox(buf, moov, 'mvhd', true);
  const tkhd = descend(buf, moov, ['trak', 'tkhd'], true);
  const stsd = descend(buf, moov, ['trak', 'mdia', 'minf', 'stbl', 'stsd'], true);
  if (!mdhd || !mvhd || !tkhd || !stsd) throw bad('no video track in moov');
  const timescale = u32(buf, mdhd.start + mdhd.headerSize + (buf[mdhd.start + mdhd.headerSize] === 1 ? 20 : 12));
  const movieTimescale = u32(buf, mvhd.start + mvhd.headerSize + (buf[mvhd.start + mvhd.headerSize] === 1 ? 20 : 12));
  const trackId = u32(buf, tkhd.start + tkhd.headerSize + (buf[tkhd.start + tkhd.headerSize] === 1 ? 20 : 12));
  const trex = descend(buf, moov, ['mvex', 'trex'], true);
  const trexDefaults = trex
    ? { duration: u32(buf, trex.start + trex.headerSize + 12), size: u32(buf, trex.start + trex.headerSize + 16), flags: u32(buf, trex.start + trex.headerSize + 20) }
    : { duration: 0, size: 0, flags: 0 };

  const samples: Sample[] = [];
  for (let i = 0; i < top.length; i += 1) {
    const moof = top[i];
    if (moof?.type !== 'moof') continue;
    const traf = childBox(buf, moof, 'traf', true);
    const tfhd = traf && childBox(buf, traf, 'tfhd', true);
    if (!traf || !tfhd) throw bad('a fragment without traf/tfhd');
    const tfhdFlags = u32(buf, tfhd.start + tfhd.headerSize) & 0xffffff;
    let at = tfhd.start + tfhd.headerSize + 8;
    let base = moof.start;
    if (tfhdFlags & 0x1) {
      base = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    if (tfhdFlags & 0x2) at += 4;
    const defaults = { ...trexDefaults };
    if (tfhdFlags & 0x8) {
      defaults.duration = u32(buf, at);
      at += 4;
    }
    if (tfhdFlags & 0x10) {
      defaults.size = u32(buf, at);
      at += 4;
    }
    if (tfhdFlags & 0x20) defaults.flags = u32(buf, at);
    const tfdt = childBox(buf, traf, 'tfdt', true);
    let dts = 0n;
    if (tfdt) dts = buf[tfdt.start + tfdt.headerSize] === 1 ? buf.readBigUInt64BE(tfdt.start + tfdt.headerSize + 4) : BigInt(u32(buf, tfdt.start + tfdt.headerSize + 4));
    let next = base;
    for (const trun of mp4Boxes(buf, traf.start + traf.headerSize, traf.end, true)) {
      if (trun.type !== 'trun') continue;
      const body = trun.start + trun.headerSize;
      const version = buf[body] ?? 0;
      const flags = u32(buf, body) & 0xffffff;
      const count = u32(buf, body + 4);
      let p = body + 8;
      let offset = next;
      if (flags & 0x1) {
        offset = base + buf.readInt32BE(p);
        p += 4;
      }
      let firstFlags: number | undefined;
      if (flags & 0x4) {
        firstFlags = u32(buf, p);
        p += 4;
      }
      // Each present field, in the order ISO/IEC 14496-12 gives them.
      const field = (flag: number, otherwise: number, signed = false): number => {
        if (!(flags & flag)) return otherwise;
        const value = signed ? buf.readInt32BE(p) : u32(buf, p);
        p += 4;
        return value;
      };
      for (let s = 0; s < count; s += 1) {
        const duration = field(0x100, defaults.duration);
        const size = field(0x200, defaults.size);
        const sampleFlags = field(0x400, s === 0 && firstFlags !== undefined ? firstFlags : defaults.flags);
        const cts = field(0x800, 0, version !== 0);
        if (offset + size > buf.length) throw bad('a sample beyond the end of the file');
        samples.push({ dts, duration, size, flags: sampleFlags, cts, offset });
        dts += BigInt(duration);
        offset += size;
      }
      next = offset;
    }
  }
  return { ftyp: buf.subarray(ftyp.start, ftyp.end), moov: buf.subarray(moov.start, moov.end), codec: codecOf(buf, stsd), timescale, movieTimescale, trackId, samples };
}

/**
 * The first sample entry's codec, picture size and decoder configuration (avcC/hvcC): what
 * must stay the same for samples to share one moov. Not the bitrate box mp4mux adds
 * (btrt), which differs from segment to segment.
 */
function codecOf(buf: Buffer, stsd: Box): string {
  const [entry] = mp4Boxes(buf, stsd.start + stsd.headerSize + 8, stsd.end, true);
  if (!entry) return '';
  const body = entry.start + entry.headerSize;
  const size = `${buf.readUInt16BE(body + 24)}x${buf.readUInt16BE(body + 26)}`;
  // A visual sample entry has 78 bytes of fixed fields before its child boxes.
  const config = [...mp4Boxes(buf, body + 78, entry.end, true)].filter((b) => b.type === 'avcC' || b.type === 'hvcC').map((b) => buf.toString('hex', b.start, b.end));
  return `${entry.type} ${size} ${config.join('')}`;
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...parts);
}

/** One fragment: moof (explicit per-sample values, decode time `dts`) and mdat (the samples' bytes as recorded). */
function fragment(seq: number, trackId: number, dts: bigint, samples: Sample[], file: Buffer, withCts: boolean): Buffer[] {
  const seqBody = Buffer.alloc(4);
  seqBody.writeUInt32BE(seq, 0);
  const mfhd = fullBox('mfhd', 0, 0, seqBody);
  const tfhdBody = Buffer.alloc(4);
  tfhdBody.writeUInt32BE(trackId, 0);
  const tfhd = fullBox('tfhd', 0, 0x020000, tfhdBody); // default-base-is-moof
  const tfdtBody = Buffer.alloc(8);
  tfdtBody.writeBigUInt64BE(dts, 0);
  const tfdt = fullBox('tfdt', 1, 0, tfdtBody);
  const per = withCts ? 16 : 12;
  const runBody = Buffer.alloc(8 + per * samples.length);
  runBody.writeUInt32BE(samples.length, 0);
  samples.forEach((s, i) => {
    const at = 8 + i * per;
    runBody.writeUInt32BE(s.duration, at);
    runBody.writeUInt32BE(s.size, at + 4);
    runBody.writeUInt32BE(s.flags >>> 0, at + 8);
    if (withCts) runBody.writeInt32BE(s.cts, at + 12);
  });
  const trunFlags = 0x1 | 0x100 | 0x200 | 0x400 | (withCts ? 0x800 : 0);
  const trunLength = 12 + runBody.length;
  const moofLength = 8 + mfhd.length + 8 + tfhd.length + tfdt.length + trunLength;
  runBody.writeInt32BE(moofLength + 8, 4); // data offset: past the moof and the mdat header
  const moof = box('moof', mfhd, box('traf', tfhd, tfdt, fullBox('trun', withCts ? 1 : 0, trunFlags, runBody)));
  const data = samples.map((s) => file.subarray(s.offset, s.offset + s.size));
  const total = data.reduce((n, d) => n + d.length, 0);
  const mdatHead = Buffer.alloc(8);
  mdatHead.writeUInt32BE(total + 8, 0);
  mdatHead.write('mdat', 4, 'latin1');
  return [moof, mdatHead, ...data];
}

/** The moov of the clip: the first segment's, its fragment duration (mehd) and movie duration set. */
function clipMoov(seg: Segment, durationMovie: bigint): Buffer {
  const moov = Buffer.from(seg.moov);
  const root: Box = { type: 'moov', start: 0, headerSize: 8, end: moov.length };
  const set = (b: Box | undefined, offsetV0: number, offsetV1: number): void => {
    if (!b) return;
    const body = b.start + b.headerSize;
    if (moov[body] === 1) moov.writeBigUInt64BE(durationMovie, body + offsetV1);
    else moov.writeUInt32BE(Number(durationMovie > 0xffffffffn ? 0xffffffffn : durationMovie), body + offsetV0);
  };
  set(childBox(moov, root, 'mvhd', true), 16, 24);
  set(descend(moov, root, ['mvex', 'mehd'], true), 4, 4);
  return moov;
}

const MS = 1000n;
/** Two segments this close (ms) are back to back: the next continues exactly where the last sample ended. */
const CONTINUOUS_MS = 50;

/** Fragments of the clip hold about this much (in samples) each. */
const SAMPLES_PER_FRAGMENT = 30;

/**
 * Hashes a file as it is being written, on a thread of its own: told how far the file is
 * written, it reads that much (from the page cache, just written) and hashes it, so the
 * SHA-256 costs the thread that cuts the clip nothing. Inline, so it runs the same from the
 * build and from the sources.
 */
const HASHER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const fd = openSync(workerData.path, 'r');
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(4 << 20);
let at = 0;
parentPort.on('message', ({ upTo, done }) => {
  while (at < upTo) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, upTo - at), at);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    at += n;
  }
  if (done) {
    closeSync(fd);
    parentPort.postMessage({ sha256: hash.digest('hex'), bytes: at });
  }
});
`;

class Hasher {
  private readonly worker: Worker;
  private readonly result: Promise<{ sha256: string; bytes: number }>;

  constructor(path: string) {
    this.worker = new Worker(HASHER, { eval: true, workerData: { path } });
    this.result = new Promise((resolve, reject) => {
      this.worker.once('message', (m: unknown) => {
        const sha256: unknown = typeof m === 'object' && m !== null ? Reflect.get(m, 'sha256') : undefined;
        const bytes: unknown = typeof m === 'object' && m !== null ? Reflect.get(m, 'bytes') : undefined;
        if (typeof sha256 === 'string' && typeof bytes === 'number') resolve({ sha256, bytes });
        else reject(new LibcamError('internal', 'the clip hasher answered nonsense'));
      });
      this.worker.once('error', reject);
    });
  }

  /** The file is written up to here. */
  written(upTo: number): void {
    this.worker.postMessage({ upTo, done: false });
  }

  async digest(upTo: number): Promise<{ sha256: string; bytes: number }> {
    this.worker.postMessage({ upTo, done: true });
    try {
      return await this.result;
    } finally {
      await this.worker.terminate();
    }
  }

  async abandon(): Promise<void> {
    this.result.catch(() => undefined);
    await this.worker.terminate();
  }
}

/** Segments read ahead of the one being cut. */
const READ_AHEAD = 2;
/** Segments the kernel is asked to read ahead into its cache. */
const ADVISE_AHEAD = 8;

/** Written in batches of about this many bytes: one write for many fragments. */
const WRITE_BATCH = 8 << 20;

/**
 * Writes one clip file front to back (nothing is rewritten afterwards), a hasher following
 * it on another thread. The moov's duration is the span the clip will cover, known from the
 * index before the first sample is written.
 */
class ClipWriter {
  private handle: FileHandle | undefined;
  private hasher: Hasher | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  /** The batch on its way to the disk while the next one is made (one at a time, in order). */
  private inFlight: Promise<unknown> = Promise.resolve();
  private seq = 1;
  private samples = 0;
  private first: { seg: Segment; startMs: number } | undefined;
  /** Where the next back-to-back sample would begin, in clip time (track timescale). */
  private nextDts = 0n;
  private lastEndAbsMs = 0;

  /** `endMs`: where the footage in range ends (UTC ms), for the moov's duration. */
  constructor(
    readonly path: string,
    private readonly endMs: number,
  ) {}

  get started(): boolean {
    return this.first !== undefined;
  }

  matches(seg: Segment): boolean {
    return !this.first || this.first.seg.codec === seg.codec;
  }

  private async write(chunks: Buffer[]): Promise<void> {
    for (const c of chunks) {
      this.pending.push(c);
      this.pendingBytes += c.length;
    }
    if (this.pendingBytes >= WRITE_BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    const handle = this.handle;
    if (!handle) throw new LibcamError('internal', 'clip written before it was opened');
    await this.inFlight;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    const at = this.written;
    this.written += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const end = this.written;
    this.inFlight = handle.writev(batch, at).then(() => this.hasher?.written(end));
  }

  /** Adds the samples of one segment (already trimmed), placed at `segStartMs` on the camera's timeline. */
  async add(seg: Segment, file: Buffer, kept: Sample[], segStartMs: number): Promise<void> {
    const [head] = kept;
    if (!head) return;
    const ts = BigInt(seg.timescale);
    const headAbsMs = segStartMs + Number((head.dts * MS) / ts);
    if (!this.first) {
      this.first = { seg, startMs: headAbsMs };
      this.handle = await open(this.path, 'wx', 0o600);
      this.hasher = new Hasher(this.path);
      const span = BigInt(Math.max(0, Math.round(this.endMs - headAbsMs)));
      await this.write([seg.ftyp, clipMoov(seg, (span * BigInt(seg.movieTimescale)) / MS)]);
      this.nextDts = 0n;
    } else if (Math.abs(headAbsMs - this.lastEndAbsMs) > CONTINUOUS_MS) {
      // A gap: this footage goes where the index says it was recorded.
      this.nextDts = (BigInt(Math.round(headAbsMs - this.first.startMs)) * ts) / MS;
    }
    const withCts = kept.some((s) => s.cts !== 0);
    for (let i = 0; i < kept.length; i += SAMPLES_PER_FRAGMENT) {
      const part = kept.slice(i, i + SAMPLES_PER_FRAGMENT);
      await this.write(fragment(this.seq++, seg.trackId, this.nextDts, part, file, withCts));
      for (const s of part) this.nextDts += BigInt(s.duration);
    }
    this.samples += kept.length;
    const last = kept.at(-1) ?? head;
    this.lastEndAbsMs = segStartMs + Number(((last.dts + BigInt(last.duration)) * MS) / ts);
  }

  /** Writes what is left, syncs, and says what was written. */
  async finish(): Promise<ClipPart | undefined> {
    const first = this.first;
    const handle = this.handle;
    if (!first || !handle) return undefined;
    await this.flush();
    await this.inFlight;
    await handle.sync();
    await handle.close();
    this.handle = undefined;
    const hashed = await this.hasher?.digest(this.written);
    if (!hashed || hashed.bytes !== this.written) throw new LibcamError('io', `the clip ${this.path} could not be read back whole to hash it`, { file: this.path });
    return { path: this.path, start: first.startMs, end: this.lastEndAbsMs, bytes: this.written, sha256: hashed.sha256, samples: this.samples };
  }

  async abandon(): Promise<void> {
    await this.inFlight.catch(() => undefined);
    await this.hasher?.abandon();
    await this.handle?.close();
    this.handle = undefined;
    await unlink(this.path).catch(() => undefined);
  }
}

/** A whole file in one read (readFile reads in 512 KB round trips through the thread pool). */
export async function readWhole(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const buf = Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await handle.read(buf, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === size ? buf : buf.subarray(0, at);
  } finally {
    await handle.close();
  }
}

export interface ClipProgress {
  segmentsDone: number;
  segments: number;
  bytesDone: number;
  bytes: number;
}

/**
 * Cuts the clip of one camera for [from, to) from its segments, in time order, into
 * `basePath` (`.mp4` added; a second part `-2.mp4` if the camera's stream description
 * changed midway). `read` reads a segment (under the store's reader lease). Returns the
 * parts written; none when no sample falls in the range.
 */
export async function cutClip(
  basePath: string,
  sources: readonly (ClipSource & { bytes: number })[],
  from: number,
  to: number,
  read: (source: ClipSource) => Promise<Buffer> = (s) => readWhole(s.path),
  onProgress?: (p: ClipProgress) => void,
): Promise<ClipPart[]> {
  const parts: ClipPart[] = [];
  const endMs = Math.min(to, Math.max(...sources.map((s) => s.end)));
  let writer = new ClipWriter(`${basePath}.mp4`, endMs);
  const total = sources.reduce((n, s) => n + s.bytes, 0);
  let bytesDone = 0;
  // The next segments are read while this one is cut and hashed: the disk does not wait for
  // the CPU (two ahead: measured faster than one, no faster than three, and it leaves the
  // thread pool's other spare threads to the recorders' commits).
  const ahead = sources.slice(0, READ_AHEAD).map((s) => read(s));
  let advised = 0;
  try {
    for (const [i, source] of sources.entries()) {
      // And the kernel reads further ahead still, into the page cache, on its own: one
      // large read per file waits on the disk, the kernel's readahead does not (measured:
      // 700 -> 1100 MB/s on a fast disk, cold).
      for (; advised < Math.min(sources.length, i + ADVISE_AHEAD); advised += 1) willNeed(sources[advised]?.path ?? '');
      const file = await (ahead.shift() ?? read(source));
      const following = sources[i + READ_AHEAD];
      if (following) ahead.push(read(following));
      const seg = parseSegment(file, source.path);
      const ts = BigInt(seg.timescale);
      const absMs = (s: Sample): number => source.start + Number((s.dts * MS) / ts);
      let kept = seg.samples.filter((s) => absMs(s) < to);
      if (!writer.started) {
        // The first kept sample is the keyframe at or before `from`.
        let keyAt = -1;
        kept.forEach((s, idx) => {
          if (!(s.flags & NON_SYNC) && absMs(s) <= from) keyAt = idx;
        });
        if (keyAt === -1) keyAt = kept.findIndex((s) => !(s.flags & NON_SYNC)); // the range starts before this segment
        kept = keyAt === -1 ? [] : kept.slice(keyAt);
      }
      if (!writer.matches(seg)) {
        const done = await writer.finish();
        if (done) parts.push(done);
        writer = new ClipWriter(`${basePath}-${parts.length + 1}.mp4`, endMs);
        const key = kept.findIndex((s) => !(s.flags & NON_SYNC));
        kept = key === -1 ? [] : kept.slice(key);
      }
      await writer.add(seg, file, kept, source.start);
      bytesDone += source.bytes;
      onProgress?.({ segmentsDone: i + 1, segments: sources.length, bytesDone, bytes: total });
    }
    const done = await writer.finish();
    if (done) parts.push(done);
    return parts;
  } catch (err) {
    await Promise.allSettled(ahead);
    await writer.abandon();
    for (const p of parts) await unlink(p.path).catch(() => undefined);
    throw err;
  }
}
