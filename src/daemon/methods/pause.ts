import { iso } from '../../clock.js';
import { parseDuration } from '../../config/units.js';
import { LibcamError } from '../../errors.js';
import { auditActor } from '../../store/audit.js';
import type { Handlers } from '../dispatcher.js';
import { requireCamera, type MethodDeps } from './context.js';

/** The cameras `--camera C` or `--all` names. */
function targets(names: readonly string[], p: { camera?: string | undefined; all?: boolean | undefined }): string[] {
  if (p.all === true && p.camera !== undefined) throw new LibcamError('usage', 'give --camera C or --all, not both', { flag: '--all' });
  if (p.all === true) return [...names];
  if (p.camera === undefined) throw new LibcamError('usage', 'which camera? give --camera C or --all', { flag: '--camera' });
  requireCamera(names, p.camera);
  return [p.camera];
}

/** `libcam pause` and `libcam resume` (policy §4). */
export function pauseMethods(d: MethodDeps): Pick<Handlers, 'pause' | 'resume'> {
  return {
    pause: async (p, ctx) => {
      const cameras = targets(d.names, p);
      const ms = parseDuration(p.for);
      if (ms === undefined || ms <= 0) throw new LibcamError('usage', `--for: "${p.for}" is not a duration (30s, 15m, 2h)`, { flag: '--for' });
      const paused = await d.pauses.pause(cameras, { reason: p.reason, ms, note: p.note ?? null }, auditActor(ctx.caller));
      return { paused: paused.map((x) => ({ ...x, until: iso(x.until) })) };
    },
    resume: async (p, ctx) => {
      const cameras = targets(d.names, p);
      const resumed = await d.pauses.resume(cameras, auditActor(ctx.caller));
      const [only] = cameras;
      if (p.all !== true && only !== undefined && resumed.length === 0) throw new LibcamError('invalid-input', `--camera: ${only} is not paused`, { flag: '--camera' });
      return { resumed };
    },
  };
}
