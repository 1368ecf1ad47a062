import { LibcamError } from '../errors.js';
import { MAX_RECORDINGS, type RecordingsParams, type RecordingsResult } from '../protocol.js';
import type { SegmentStore } from '../store/segments.js';
import { requireCamera } from './cameraName.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function parseIso(value: string, field: 'from' | 'to'): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new LibcamError('usage', `--${field}: "${value}" is not an ISO 8601 time`, { field, value });
  return ms;
}

/**
 * `recordings`: the segments and gaps of one camera in a time range. A range that starts
 * in the future is refused (there is nothing there yet, and a typo in the year should not
 * look like an outage); one that ends in the future is cut at now.
 */
export async function listRecordings(
  store: SegmentStore,
  cameras: readonly string[],
  params: RecordingsParams,
  now = Date.now(),
): Promise<RecordingsResult> {
  const { camera } = params;
  requireCamera(cameras, camera);
  const from = parseIso(params.from, 'from');
  let to = parseIso(params.to, 'to');
  if (from > now) {
    throw new LibcamError('invalid-input', `--from: ${iso(from)} is in the future (now is ${iso(now)}); nothing is recorded there yet`, {
      field: 'from',
      value: params.from,
    });
  }
  to = Math.min(to, now);
  if (to <= from) {
    throw new LibcamError('invalid-input', `--to: ${iso(to)} is not after --from ${iso(from)}`, { field: 'to', value: params.to });
  }
  const found = await store.range(camera, from, to, MAX_RECORDINGS);
  return {
    camera,
    from: iso(from),
    to: iso(to),
    segments: found.segments.map((s) => ({ start: iso(s.start), end: iso(s.end), bytes: s.bytes, sha256: s.sha256, prev: s.prev, file: s.file })),
    gaps: found.gaps.map((g) => ({ start: iso(g.start), end: g.end === null ? null : iso(g.end), cause: g.cause })),
    truncated: found.truncated,
  };
}
