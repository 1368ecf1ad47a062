/**
 * Reads the box structure of a fragmented MP4 as mp4mux writes it (ftyp, moov, then
 * moof+mdat pairs) to find how much of a file cut short by a crash still plays: the
 * fragments whose moof and mdat are both complete. Only the first track is counted:
 * libcam's files have exactly one, the video.
 */
export interface Mp4Scan {
  /** Bytes up to the end of the last complete fragment (or of moov when there is none). */
  playableBytes: number;
  durationMs: number;
  fragments: number;
  /** Whether the file ends exactly where its last complete box ends. */
  clean: boolean;
}

export interface Mp4Box {
  type: string;
  start: number;
  headerSize: number;
  end: number;
}
type Box = Mp4Box;

/**
 * The boxes between `start` and `end`. A box that runs past `end` (the last of a file cut
 * short) is yielded as it claims to be, for a scan to see it is incomplete; with `whole`,
 * the walk stops before it instead, for code that reads only complete boxes.
 */
export function* mp4Boxes(buf: Buffer, start: number, end: number, whole = false): Generator<Box> {
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let headerSize = 8;
    if (size === 1) {
      if (at + 16 > end) return;
      size = Number(buf.readBigUInt64BE(at + 8));
      headerSize = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < headerSize || (whole && at + size > end)) return;
    yield { type, start: at, headerSize, end: at + size };
    at += size;
  }
}

/** The first child of `parent` of this type (within what the buffer holds). */
export function childBox(buf: Buffer, parent: Box, type: string, whole = false): Box | undefined {
  for (const box of mp4Boxes(buf, parent.start + parent.headerSize, Math.min(parent.end, buf.length), whole)) {
    if (box.type === type) return box;
  }
  return undefined;
}

/** The box at the end of a path of child types from `from`, such as ['trak', 'mdia', 'mdhd']. */
export function descend(buf: Buffer, from: Box, types: string[], whole = false): Box | undefined {
  let box: Box | undefined = from;
  for (const type of types) {
    if (!box) return undefined;
    box = childBox(buf, box, type, whole);
  }
  return box;
}

interface TrackInfo {
  timescale: number;
  defaultDuration: number;
}

function trackInfo(buf: Buffer, moov: Box): TrackInfo | undefined {
  const mdhd = descend(buf, moov, ['trak', 'mdia', 'mdhd']);
  if (!mdhd) return undefined;
  const body = mdhd.start + mdhd.headerSize;
  const version = buf.readUInt8(body);
  const timescale = buf.readUInt32BE(body + (version === 1 ? 20 : 12));
  const trex = descend(buf, moov, ['mvex', 'trex']);
  const defaultDuration = trex ? buf.readUInt32BE(trex.start + trex.headerSize + 12) : 0;
  return { timescale, defaultDuration };
}

/** Sum of sample durations of one moof, in the track's timescale. */
function fragmentDuration(buf: Buffer, moof: Box, track: TrackInfo): number {
  const traf = childBox(buf, moof, 'traf');
  if (!traf) return 0;
  let defaultDuration = track.defaultDuration;
  const tfhd = childBox(buf, traf, 'tfhd');
  if (tfhd) {
    const body = tfhd.start + tfhd.headerSize;
    const flags = buf.readUInt32BE(body) & 0xffffff;
    let at = body + 8; // version/flags, track_ID
    if (flags & 0x1) at += 8;
    if (flags & 0x2) at += 4;
    if (flags & 0x8) defaultDuration = buf.readUInt32BE(at);
  }
  let total = 0;
  for (const box of mp4Boxes(buf, traf.start + traf.headerSize, traf.end)) {
    if (box.type !== 'trun') continue;
    const body = box.start + box.headerSize;
    const flags = buf.readUInt32BE(body) & 0xffffff;
    const count = buf.readUInt32BE(body + 4);
    let at = body + 8;
    if (flags & 0x1) at += 4;
    if (flags & 0x4) at += 4;
    const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
    for (let i = 0; i < count; i += 1) {
      total += flags & 0x100 ? buf.readUInt32BE(at) : defaultDuration;
      at += perSample;
    }
  }
  return total;
}

export function scanMp4Buffer(buf: Buffer): Mp4Scan {
  let track: TrackInfo | undefined;
  let playableBytes = 0;
  let units = 0;
  let fragments = 0;
  let pendingMoof: { box: Box; duration: number } | undefined;
  let lastEnd = 0;
  for (const box of mp4Boxes(buf, 0, buf.length)) {
    const complete = box.end <= buf.length;
    if (!complete) break;
    lastEnd = box.end;
    if (box.type === 'moov') {
      track = trackInfo(buf, box);
      playableBytes = box.end;
    } else if (box.type === 'moof' && track) {
      pendingMoof = { box, duration: fragmentDuration(buf, box, track) };
    } else if (box.type === 'mdat' && pendingMoof) {
      units += pendingMoof.duration;
      fragments += 1;
      playableBytes = box.end;
      pendingMoof = undefined;
    } else if (box.type === 'mfra' || box.type === 'ftyp' || box.type === 'free') {
      if (box.type === 'mfra' || playableBytes === box.start) playableBytes = box.end;
    }
  }
  const durationMs = track && track.timescale > 0 ? (units / track.timescale) * 1000 : 0;
  return { playableBytes, durationMs, fragments, clean: lastEnd === buf.length && playableBytes === buf.length };
}

export type VideoCodec = 'h264' | 'h265';

const SAMPLE_ENTRIES: Record<string, VideoCodec> = { avc1: 'h264', avc3: 'h264', hvc1: 'h265', hev1: 'h265' };

/** The codec of the file's video track, read from moov's sample description. */
export function videoCodecOf(buf: Buffer): VideoCodec | undefined {
  for (const box of mp4Boxes(buf, 0, buf.length)) {
    if (box.type !== 'moov' || box.end > buf.length) continue;
    const stsd = descend(buf, box, ['trak', 'mdia', 'minf', 'stbl', 'stsd']);
    if (!stsd) return undefined;
    // stsd: version/flags (4), entry count (4), then sample entries as boxes.
    for (const entry of mp4Boxes(buf, stsd.start + stsd.headerSize + 8, stsd.end)) {
      const codec = SAMPLE_ENTRIES[entry.type];
      if (codec) return codec;
    }
  }
  return undefined;
}
