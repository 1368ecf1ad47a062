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
  return `${dayDirectory(camera, start)}${Math.round(start)}.mp4`;
}

const DAY_MS = 86_400_000;
/** The last day directory made: a range query decodes hundreds of entries of one camera and day. */
let lastDay = { camera: '', day: Number.NaN, directory: '' };

/** `<camera>/<YYYY>/<MM>/<DD>/` of the UTC day `new Date(start)` falls in (which truncates the milliseconds). */
function dayDirectory(camera: string, start: number): string {
  // Beyond ±8.64e15 ms a Date is invalid: no day to share with a valid time (NaN never matches).
  const day = Math.abs(start) <= 8.64e15 ? Math.floor(Math.trunc(start) / DAY_MS) : Number.NaN;
  if (camera !== lastDay.camera || day !== lastDay.day) {
    const d = new Date(start);
    const two = (n: number): string => String(n).padStart(2, '0');
    lastDay = { camera, day, directory: `${camera}/${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/` };
  }
  return lastDay.directory;
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
  // Read field by field rather than with split(): an hour's query decodes 360 entries, and
  // what it allocates decides how often a query meets a garbage collection, which is most
  // of the query's slow tail (BENCHMARKS.md, Store).
  const b0 = 1; // after the form's '2'
  const b1 = text.indexOf('|', b0 + 1);
  const b2 = text.indexOf('|', b1 + 1);
  const b3 = text.indexOf('|', b2 + 1);
  const b4 = text.indexOf('|', b3 + 1);
  const b5 = text.indexOf('|', b4 + 1);
  if (b1 === -1 || b2 === -1 || b3 === -1 || b4 === -1 || b5 === -1) throw new Error('segment entry cut short');
  const start = numberIn(text, b0 + 1, b1);
  const camera = text.slice(b5 + 1);
  return {
    camera,
    start,
    end: numberIn(text, b1 + 1, b2),
    bytes: numberIn(text, b2 + 1, b3),
    sha256: text.slice(b3 + 1, b4),
    prev: b5 === b4 + 1 ? null : text.slice(b4 + 1, b5),
    file: segmentFile(camera, start),
  };
}

/** The number written in text[from, to): digits read in place, anything else through Number(). */
function numberIn(text: string, from: number, to: number): number {
  if (to === from || to - from > 15) return Number(text.slice(from, to)); // empty, or past exact integers
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number(text.slice(from, to));
    n = n * 10 + digit;
  }
  return n;
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
