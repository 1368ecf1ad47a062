import { stat, statfs } from 'node:fs/promises';
import { iso } from '../../clock.js';
import { formatBytes } from '../../config/units.js';
import { gstreamerCheck } from '../../pipeline/elements.js';
import type { DoctorCheck, DoctorResult } from '../../protocol.js';
import { storeIdentityProblem } from '../../store/identity.js';
import { INDEX_FORMAT } from '../../store/indexDb.js';
import type { Handlers } from '../dispatcher.js';
import { clockSynchronised } from '../../os/libc.js';
import type { MethodDeps } from './context.js';

const check = (name: string, ok: boolean, detail: string): DoctorCheck => ({ name, ok, detail });

/** `libcam doctor`: this box, one line each, ok or what to do. */
export function doctorMethods(d: MethodDeps): Pick<Handlers, 'doctor'> {
  return { doctor: () => doctor(d) };
}

async function doctor(deps: MethodDeps): Promise<DoctorResult> {
  const { config } = deps;
  const checks: DoctorCheck[] = [{ name: 'gstreamer', ...(await gstreamerCheck()) }];

  const fs = await statfs(config.store.path);
  const free = fs.bavail * fs.bsize;
  const reserve = config.retention.minFreeBytes;
  checks.push(
    check(
      'store disk',
      free >= reserve,
      `${config.store.path}: ${formatBytes(free)} free of ${formatBytes(fs.blocks * fs.bsize)}, reserve ${formatBytes(reserve)}` +
        (free >= reserve ? '' : ': under the reserve with only held footage left; release holds or add a disk'),
    ),
  );
  const identity = await storeIdentityProblem(deps.index, config.store.path);
  checks.push(check('store identity', identity === undefined, identity ?? `${config.store.path} is the store this index was made for`));
  checks.push(check('index', deps.index.db.status === 'open', `${deps.index.path}: ${deps.index.db.status}, format ${INDEX_FORMAT}`));

  const socket = await stat(config.socket.path).catch(() => undefined);
  checks.push(
    check(
      'socket',
      socket !== undefined,
      socket ? `${config.socket.path}: answering, mode 0${(socket.mode & 0o777).toString(8)}, group ${config.socket.group}` : `${config.socket.path} is gone: restart libcamd`,
    ),
  );

  const notify = await deps.outbox.status();
  checks.push(
    notify.to === null
      ? check('notify', false, 'notify is not configured: the Library Director is not e-mailed when footage is accessed (policy §3); set notify.director and notify.smtp')
      : check(
          'notify',
          notify.pending === 0 || notify.lastError === null,
          `to ${notify.to}: ${notify.pending} pending, ${notify.delivered} delivered` + (notify.pending > 0 && notify.lastError ? `; last error: ${notify.lastError}: check notify.smtp` : ''),
        ),
  );

  const synced = clockSynchronised();
  checks.push(
    check(
      'clock',
      synced,
      synced
        ? `synchronised (${iso(deps.clock.now())})`
        : 'not synchronised: every timestamp is evidence; enable an NTP client (systemctl enable --now systemd-timesyncd, or install chrony)',
    ),
  );

  const cameras = deps.cameras.status();
  const broken = cameras.filter((c) => c.state === 'error' || c.state === 'backoff');
  checks.push(
    check(
      'cameras',
      broken.length === 0,
      broken.length === 0 ? deps.cameras.summary() : broken.map((c) => `${c.name}: ${c.state}${c.reason ? ` (${c.reason})` : ''}`).join('; '),
    ),
  );
  return { ok: checks.every((c) => c.ok), checks };
}
