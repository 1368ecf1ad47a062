import type { Handlers } from '../dispatcher.js';
import { timeParam, type MethodDeps } from './context.js';

/** `libcam audit list` and `libcam audit verify`. Entries are stored with ISO times already. */
export function auditMethods(d: MethodDeps): Pick<Handlers, 'audit.list' | 'audit.verify'> {
  return {
    'audit.list': async (p) => {
      const since = p.since === undefined ? undefined : timeParam(p.since, '--since');
      const entries = await d.trail.list({ since, action: p.action });
      return entries.map(({ prev: _prev, ...e }) => e);
    },
    'audit.verify': (p) =>
      d.trail.verify(
        (p.anchors ?? []).map((a) => {
          const [seq = '', hash = ''] = a.replace(/^#/, '').split(':');
          return { seq: Number(seq), hash };
        }),
      ),
  };
}
