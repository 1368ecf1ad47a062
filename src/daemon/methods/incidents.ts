import { iso } from '../../clock.js';
import { LibcamError } from '../../errors.js';
import type { Incident } from '../../evidence/incidents.js';
import type { IncidentInfo } from '../../protocol.js';
import { auditActor } from '../../store/audit.js';
import type { Handlers } from '../dispatcher.js';
import { checkHoldRange, requireCamera, timeParam, type MethodDeps } from './context.js';

export function incidentInfo(i: Incident): IncidentInfo {
  return {
    id: i.id,
    created: iso(i.created),
    cameras: i.cameras,
    from: iso(i.from),
    to: iso(i.to),
    purpose: i.purpose,
    requestedBy: i.requestedBy,
    account: { user: i.actor.user, uid: i.actor.uid },
    note: i.note,
    patrons: i.patrons,
    state: i.state,
    held: i.state !== 'released',
    refused: i.refused,
    gaps: i.gaps.map((g) => ({ camera: g.camera, start: iso(g.start), end: g.end === null ? null : iso(g.end), cause: g.cause })),
    clips: i.clips.map((c) => ({ camera: c.camera, path: c.file, start: iso(c.start), end: iso(c.end), bytes: c.bytes, sha256: c.sha256, earlierMs: c.earlierMs, segments: c.segments.length })),
    released: i.released ? { at: iso(i.released.at), by: i.released.actor.user, requestedBy: i.released.actor.requestedBy ?? null, note: i.released.note } : null,
  };
}

/** `libcam isolate` and `libcam incidents` (policy §3, §5). */
export function incidentsMethods(d: MethodDeps): Pick<Handlers, 'isolate' | 'incidents.list' | 'incidents.show' | 'incidents.release'> {
  return {
    isolate: async (p, ctx) => {
      for (const camera of p.cameras) requireCamera(d.names, camera);
      const now = d.clock.now();
      const from = timeParam(p.from, '--from');
      const to = timeParam(p.to, '--to');
      checkHoldRange(from, to, now);
      if (from > now + 1000) {
        throw new LibcamError('invalid-input', `--from: ${iso(from)} is in the future (now is ${iso(now)}); for live footage use --from now --for DURATION`, { flag: '--from' });
      }
      const incident = await d.incidents.isolate(
        { cameras: p.cameras, from, to, purpose: p.purpose, note: p.note ?? null, patrons: p.patrons ?? [] },
        auditActor(ctx.caller, p.requestedBy.trim()),
        (progress) => ctx.progress(progress),
      );
      return { incident: incidentInfo(incident) };
    },
    'incidents.list': async (p) =>
      (await d.incidents.list())
        .filter((i) => p.all === true || i.state !== 'released')
        .map((i) => ({ id: i.id, created: iso(i.created), purpose: i.purpose, cameras: i.cameras, from: iso(i.from), to: iso(i.to), state: i.state, held: i.state !== 'released', clips: i.clips.length })),
    'incidents.show': async (p, ctx) => incidentInfo(await d.incidents.show(p.id, auditActor(ctx.caller))),
    'incidents.release': async (p, ctx) => incidentInfo(await d.incidents.release(p.id, auditActor(ctx.caller, p.requestedBy.trim()), p.note)),
  };
}
