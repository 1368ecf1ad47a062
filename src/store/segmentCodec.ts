import type { SegmentEntry } from './segments.js';

/**
 * How a segment's index entry is stored: lean, since a range query reads hundreds of them
 * and the index holds millions (4 M for 16 cameras over 30 days at 10 s). As JSON an entry
 * was about 330 bytes, most of it derivable: the camera and start are in the key, the file
 * path follows from them (`segmentFile`), and the hashes are hex. The binary form keeps
 * what is not derivable in about 100 bytes:
 *
 *   u8 version (1) | f64 start | f64 end | f64 bytes | 32 B sha256 | u8 has-prev | 32 B prev? | camera (UTF-8)
 *
 * (The start and camera are kept although the key has them: a value decodes on its own,
 * which LevelDB's value iterators need.) The first byte tells the forms apart: a JSON
 * object starts with `{` (0x7b). An entry that does not fit the binary form (a file that is
 * not where `segmentFile` puts it, a hash that is not SHA-256 hex) stays JSON, so encoding
 * never loses anything, and entries written before format 2 read as they are until the
 * start-up migration (src/store/indexDb.ts) rewrites them.
 */
const BINARY_V1 = 1;
const JSON_OPEN = 0x7b;
const HEX_SHA256 = /^[0-9a-f]{64}$/;
const FIXED = 1 + 8 + 8 + 8 + 32 + 1;

/** A segment file's path relative to the store: `<camera>/<YYYY>/<MM>/<DD>/<startMs>.mp4` (UTC). */
export function segmentFile(camera: string, start: number): string {
  const d = new Date(start);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${camera}/${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${Math.round(start)}.mp4`;
}

function fitsBinary(e: SegmentEntry): boolean {
  return HEX_SHA256.test(e.sha256) && (e.prev === null || HEX_SHA256.test(e.prev)) && e.file === segmentFile(e.camera, e.start);
}

export function encodeSegment(e: SegmentEntry): Buffer {
  if (!fitsBinary(e)) return Buffer.from(JSON.stringify(e));
  const camera = Buffer.from(e.camera);
  const out = Buffer.alloc(FIXED + (e.prev === null ? 0 : 32) + camera.length);
  let at = out.writeUInt8(BINARY_V1, 0);
  at = out.writeDoubleLE(e.start, at);
  at = out.writeDoubleLE(e.end, at);
  at = out.writeDoubleLE(e.bytes, at);
  at += out.write(e.sha256, at, 'hex');
  at = out.writeUInt8(e.prev === null ? 0 : 1, at);
  if (e.prev !== null) at += out.write(e.prev, at, 'hex');
  camera.copy(out, at);
  return out;
}

function isSegmentEntry(v: unknown): v is SegmentEntry {
  if (typeof v !== 'object' || v === null) return false;
  const e: Partial<Record<keyof SegmentEntry, unknown>> = v;
  return (
    typeof e.camera === 'string' &&
    typeof e.start === 'number' &&
    typeof e.end === 'number' &&
    typeof e.bytes === 'number' &&
    typeof e.sha256 === 'string' &&
    (e.prev === null || typeof e.prev === 'string') &&
    typeof e.file === 'string'
  );
}

export function decodeSegment(b: Buffer): SegmentEntry {
  if (b[0] === JSON_OPEN) {
    const parsed: unknown = JSON.parse(b.toString('utf8'));
    if (!isSegmentEntry(parsed)) throw new Error('segment entry in JSON without its fields');
    return parsed;
  }
  if (b[0] !== BINARY_V1) throw new Error(`segment entry of unknown form ${b[0] ?? 'empty'}`);
  const start = b.readDoubleLE(1);
  const end = b.readDoubleLE(9);
  const bytes = b.readDoubleLE(17);
  const sha256 = b.toString('hex', 25, 57);
  const hasPrev = b[57] === 1;
  const prev = hasPrev ? b.toString('hex', 58, 90) : null;
  const camera = b.toString('utf8', hasPrev ? 90 : 58);
  return { camera, start, end, bytes, sha256, prev, file: segmentFile(camera, start) };
}

/** Whether a stored value is still in the JSON form (for the migration). */
export function isLegacySegment(b: Buffer): boolean {
  return b[0] === JSON_OPEN;
}

/** The `seg` sublevel's value encoding, for abstract-level. */
export const segmentEncoding = {
  name: 'libcam-segment-v1',
  format: 'buffer' as const,
  encode: encodeSegment,
  decode: decodeSegment,
};
