import { iso } from '../../clock.js';
import { LibcamError } from '../../errors.js';
import { MAX_RECORDINGS } from '../../protocol.js';
import type { Handlers } from '../dispatcher.js';
import { requireCamera, timeParam, type MethodDeps } from './context.js';

/**
 * `libcam recordings`: the segments and gaps of one camera in a time range. A range that
 * starts in the future is refused (there is nothing there yet, and a typo in the year
 * should not look like an outage); one that ends in the future is cut at now.
 */
export function recordingsMethods(d: MethodDeps): Pick<Handlers, 'recordings'> {
  return {
    recordings: async (params) => {
      const { camera } = params;
      requireCamera(d.names, camera);
      const now = d.clock.now();
      const from = timeParam(params.from, '--from');
      const to = Math.min(timeParam(params.to, '--to'), now);
      if (from > now) {
        throw new LibcamError('invalid-input', `--from: ${iso(from)} is in the future (now is ${iso(now)}); nothing is recorded there yet`, {
          flag: '--from',
          value: params.from,
        });
      }
      if (to <= from) throw new LibcamError('invalid-input', `--to: ${iso(to)} is not after --from ${iso(from)}`, { flag: '--to', value: params.to });
      const found = await d.store.range(camera, from, to, MAX_RECORDINGS);
      return {
        camera,
        from: iso(from),
        to: iso(to),
        segments: found.segments.map((s) => ({ start: iso(s.start), end: iso(s.end), bytes: s.bytes, sha256: s.sha256, prev: s.prev, file: s.file })),
        gaps: found.gaps.map((g) => ({ start: iso(g.start), end: g.end === null ? null : iso(g.end), cause: g.cause })),
        truncated: found.truncated,
      };
    },
  };
}
