import { iso } from '../../clock.js';
import { LibcamError } from '../../errors.js';
import type { HoldInfo } from '../../protocol.js';
import { auditActor } from '../../store/audit.js';
import type { Hold } from '../../store/holds.js';
import type { Handlers } from '../dispatcher.js';
import { checkHoldRange, requireCamera, timeParam, type MethodDeps } from './context.js';

const info = (h: Hold): HoldInfo => ({ id: h.id, camera: h.camera, from: iso(h.from), to: iso(h.to), reason: h.reason, created: iso(h.created) });

/** `libcam holds`: footage no prune, disk guard or repair may delete, placed by hand until incidents do it. */
export function holdsMethods(d: MethodDeps): Pick<Handlers, 'holds.list' | 'holds.place' | 'holds.release'> {
  return {
    'holds.list': async () => (await d.holds.list()).map(info),
    'holds.place': async (p, ctx) => {
      requireCamera(d.names, p.camera);
      const from = timeParam(p.from, '--from');
      const to = timeParam(p.to, '--to');
      checkHoldRange(from, to, d.clock.now());
      const hold = info(await d.holds.place(p.camera, from, to, p.reason));
      await d.audit({ actor: auditActor(ctx.caller), action: 'hold.place', subject: p.camera, details: { ...hold } });
      return hold;
    },
    'holds.release': async (p, ctx) => {
      if (!(await d.holds.release(p.id))) throw new LibcamError('not-found', `no hold with id ${p.id} (libcam holds list shows them)`, { id: p.id });
      await d.audit({ actor: auditActor(ctx.caller), action: 'hold.release', details: { id: p.id } });
      return { released: p.id };
    },
  };
}
