/**
 * Fragmented MP4 for Media Source Extensions, written here from what the live branch hands
 * over (caps with the codec data, then frames with their times and keyframe flags): an
 * init segment (ftyp + moov with an empty sample table and mvex), then one media segment
 * (moof + mdat) per frame. One frame per segment is what keeps the picture within a frame
 * of the camera: a browser plays a segment only once it has all of it. Moonfire NVR
 * serves the same shape. Only H.264 comes this way (browsers play it; see liveChannel.ts).
 */
export const TIMESCALE = 90_000;

function box(type: string, ...parts: Buffer[]): Buffer {
  const size = 8 + parts.reduce((n, p) => n + p.length, 0);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(size, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, ...parts], size);
}

/** A full box: version and flags, then the fields. */
function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...parts);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i));
  return b;
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => b.writeUInt16BE(v & 0xffff, 2 * i));
  return b;
}

const MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);

/** What the init segment needs of the stream, read off its caps. */
export interface VideoFormat {
  width: number;
  height: number;
  /** The avcC record (H.264 codec_data). */
  avcC: Buffer;
  /** The codecs parameter for MediaSource.isTypeSupported / addSourceBuffer. */
  mime: string;
}

/**
 * Reads an H.264 stream's format from its caps string, as GStreamer prints it:
 * `video/x-h264, codec_data=(buffer)01640028…, stream-format=(string)avc, width=(int)1920, …`.
 * Undefined for anything else (another codec, byte-stream without codec data).
 */
export function h264Format(caps: string): VideoFormat | undefined {
  if (!/^video\/x-h264\b/.test(caps) || !/stream-format=\(string\)avc\b/.test(caps)) return undefined;
  const hex = /codec_data=\(buffer\)([0-9a-f]+)/i.exec(caps)?.[1];
  const width = Number(/width=\(int\)(\d+)/.exec(caps)?.[1]);
  const height = Number(/height=\(int\)(\d+)/.exec(caps)?.[1]);
  if (!hex || hex.length % 2 !== 0 || !(width > 0) || !(height > 0)) return undefined;
  const avcC = Buffer.from(hex, 'hex');
  if (avcC.length < 7 || avcC[0] !== 1) return undefined;
  const profile = avcC.subarray(1, 4).toString('hex');
  return { width, height, avcC, mime: `video/mp4; codecs="avc1.${profile}"` };
}

/** ftyp + moov for one H.264 track (track 1, TIMESCALE), with no samples: they come in fragments. */
export function initSegment(format: VideoFormat): Buffer {
  const { width, height, avcC } = format;
  const ftyp = box('ftyp', Buffer.from('iso5', 'latin1'), u32(512), Buffer.from('iso5iso6mp41avc1', 'latin1'));
  const mvhd = fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0, 0x00010000), u16(0x0100, 0), u32(0, 0), MATRIX, u32(0, 0, 0, 0, 0, 0), u32(2));
  const tkhd = fullBox('tkhd', 0, 3, u32(0, 0, 1, 0, 0, 0, 0), u16(0, 0, 0, 0), MATRIX, u32(width << 16, height << 16));
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, TIMESCALE, 0), u16(0x55c4, 0)); // language "und"
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('vide', 'latin1'), u32(0, 0, 0), Buffer.from('libcam live\0', 'latin1'));
  const avc1 = box(
    'avc1',
    Buffer.alloc(6), // reserved
    u16(1), // data reference index
    Buffer.alloc(16), // pre-defined and reserved
    u16(width, height),
    u32(0x00480000, 0x00480000, 0), // 72 dpi, reserved
    u16(1), // frame count
    Buffer.alloc(32), // compressor name
    u16(0x0018, 0xffff), // depth, pre-defined -1
    box('avcC', avcC),
  );
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), avc1),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const minf = box('minf', fullBox('vmhd', 0, 1, u16(0, 0, 0, 0)), dinf, stbl);
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, minf));
  const mvex = box('mvex', fullBox('trex', 0, 0, u32(1, 1, 0, 0, 0)));
  return Buffer.concat([ftyp, box('moov', mvhd, trak, mvex)]);
}

export interface Sample {
  /** Decoding time in TIMESCALE units from the stream's start. */
  decodeTime: number;
  duration: number;
  /** Presentation time minus decoding time (B-frames), TIMESCALE units. */
  compositionOffset: number;
  keyframe: boolean;
  /** The frame as the stream carries it (length-prefixed NAL units). */
  data: Buffer;
}

/** sample_depends_on = 2 (an I frame) / depends_on 1 + is_non_sync_sample. */
const SYNC_FLAGS = 0x02000000;
const NON_SYNC_FLAGS = 0x01010000;
/** trun: data offset, and per sample its duration, size, flags and composition offset. */
const TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800;
/** tfhd: default-base-is-moof (offsets count from the moof). */
const TFHD_BASE_IS_MOOF = 0x020000;

/** moof + mdat holding one frame. `sequence` counts media segments from 1. */
export function mediaSegment(sequence: number, sample: Sample): Buffer {
  const mfhd = fullBox('mfhd', 0, 0, u32(sequence));
  const tfhd = fullBox('tfhd', 0, TFHD_BASE_IS_MOOF, u32(1));
  const tfdt = fullBox('tfdt', 1, 0, u32(Math.floor(sample.decodeTime / 2 ** 32), sample.decodeTime % 2 ** 32));
  const offset = u32(0); // patched below, once the moof's size is known
  const trun = fullBox(
    'trun',
    1, // version 1: the composition offset is signed
    TRUN_FLAGS,
    u32(1),
    offset,
    u32(sample.duration, sample.data.length, sample.keyframe ? SYNC_FLAGS : NON_SYNC_FLAGS, sample.compositionOffset),
  );
  const moof = box('moof', mfhd, box('traf', tfhd, tfdt, trun));
  // The data offset is from the moof's first byte to the sample in the mdat.
  const dataOffset = moof.length + 8;
  moof.writeUInt32BE(dataOffset, moof.length - 16 - 4);
  return Buffer.concat([moof, box('mdat', sample.data)]);
}
