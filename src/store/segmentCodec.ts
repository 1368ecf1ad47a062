import type { SegmentEntry } from './segments.js';

/**
 * How a segment's index entry is stored: lean, since a range query reads hundreds of them
 * and the index holds millions (4 M for 16 cameras over 30 days at 10 s). As JSON an entry
 * was about 330 bytes, much of it derivable: the file path follows from camera and start
 * (`segmentFile`), and the field names repeat in every entry. The lean form is one line of
 * text, about 175 bytes:
 *
 *   2|start|end|bytes|sha256|prev (empty: none)|camera
 *
 * Text, not binary: LevelDB hands a Buffer value to JavaScript as a new ArrayBuffer each,
 * and a 1-hour query's 360 of them made the 99th percentile worse than JSON strings did
 * (BENCHMARKS.md). The first character tells the forms apart: a JSON object starts with
 * `{`. An entry that does not fit (a file that is not where `segmentFile` puts it, a hash
 * that is not SHA-256 hex, a camera name with `|`) stays JSON, so encoding never loses
 * anything, and entries written before format 2 read as they are until the start-up
 * migration (src/store/indexDb.ts) rewrites them.
 */
const LEAN_V2 = '2|';
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** A segment file's path relative to the store: `<camera>/<YYYY>/<MM>/<DD>/<startMs>.mp4` (UTC). */
export function segmentFile(camera: string, start: number): string {
  const d = new Date(start);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${camera}/${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${Math.round(start)}.mp4`;
}

function fitsLean(e: SegmentEntry): boolean {
  return HEX_SHA256.test(e.sha256) && (e.prev === null || HEX_SHA256.test(e.prev)) && !e.camera.includes('|') && e.file === segmentFile(e.camera, e.start);
}

export function encodeSegment(e: SegmentEntry): string {
  if (!fitsLean(e)) return JSON.stringify(e);
  return `${LEAN_V2}${e.start}|${e.end}|${e.bytes}|${e.sha256}|${e.prev ?? ''}|${e.camera}`;
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

export function decodeSegment(text: string): SegmentEntry {
  if (text.startsWith('{')) {
    const parsed: unknown = JSON.parse(text);
    if (!isSegmentEntry(parsed)) throw new Error('segment entry in JSON without its fields');
    return parsed;
  }
  if (!text.startsWith(LEAN_V2)) throw new Error(`segment entry of unknown form ${JSON.stringify(text.slice(0, 8))}`);
  const [, start, end, bytes, sha256, prev, camera] = text.split('|');
  if (camera === undefined || sha256 === undefined || prev === undefined) throw new Error('segment entry cut short');
  const startMs = Number(start);
  return { camera, start: startMs, end: Number(end), bytes: Number(bytes), sha256, prev: prev === '' ? null : prev, file: segmentFile(camera, startMs) };
}

/** Whether a stored value is still in the JSON form (for the migration). */
export function isLegacySegment(text: string): boolean {
  return text.startsWith('{');
}

/** The `seg` sublevel's value encoding, for abstract-level. */
export const segmentEncoding = {
  name: 'libcam-segment-v2',
  format: 'utf8' as const,
  encode: encodeSegment,
  decode: decodeSegment,
};
