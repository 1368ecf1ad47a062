import { LibcamError } from '../errors.js';
import type { HoldInfo, Methods } from '../protocol.js';
import { auditActor, type AuditInput } from '../store/audit.js';
import type { Hold, Holds } from '../store/holds.js';
import { requireCamera } from './cameraName.js';
import type { CallContext } from './dispatcher.js';

const info = (h: Hold): HoldInfo => ({
  id: h.id,
  camera: h.camera,
  from: new Date(h.from).toISOString(),
  to: new Date(h.to).toISOString(),
  reason: h.reason,
  created: new Date(h.created).toISOString(),
});

/** The socket's `holds.*` methods: what IT can hold by hand until incidents do it. */
export function holdMethods(holds: Holds, cameras: readonly string[], audit: (input: AuditInput) => Promise<unknown>) {
  return {
    'holds.list': async (): Promise<HoldInfo[]> => (await holds.list()).map(info),
    'holds.place': async (p: Methods['holds.place']['params'], ctx: CallContext): Promise<HoldInfo> => {
      requireCamera(cameras, p.camera);
      const from = Date.parse(p.from);
      const to = Date.parse(p.to);
      if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) {
        throw new LibcamError('invalid-input', `--to: ${p.to} must be a time after --from ${p.from}`, { field: 'to' });
      }
      const hold = info(await holds.place(p.camera, from, to, p.reason));
      await audit({ actor: auditActor(ctx.actor), action: 'hold.place', subject: p.camera, details: { ...hold } });
      return hold;
    },
    'holds.release': async (p: Methods['holds.release']['params'], ctx: CallContext): Promise<{ released: string }> => {
      if (!(await holds.release(p.id))) throw new LibcamError('not-found', `no hold with id ${p.id} (libcam holds list shows them)`, { id: p.id });
      await audit({ actor: auditActor(ctx.actor), action: 'hold.release', details: { id: p.id } });
      return { released: p.id };
    },
  };
}
