import { stat, statfs } from 'node:fs/promises';
import { iso } from '../../clock.js';
import { formatBytes } from '../../config/units.js';
import { gstreamerCheck } from '../../pipeline/elements.js';
import type { DoctorCheck, DoctorResult } from '../../protocol.js';
import { storeIdentityProblem } from '../../store/identity.js';
import { INDEX_FORMAT } from '../../store/indexDb.js';
import type { Handlers } from '../dispatcher.js';
import { clockSynchronised } from '../../os/libc.js';
import { gidOf } from '../group.js';
import { relayProblem } from '../outbox.js';
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
        (free >= reserve ? '' : ': under the reserve; the disk guard deletes the oldest footage, and stops the cameras if only held footage is left (release incidents or add a disk)'),
    ),
  );
  const identity = await storeIdentityProblem(deps.index, config.store.path);
  checks.push(check('store identity', identity === undefined, identity ?? `${config.store.path} is the store this index was made for`));
  checks.push(check('index', deps.index.db.status === 'open', `${deps.index.path}: ${deps.index.db.status}, format ${INDEX_FORMAT}`));

  // The socket file as it is, not as the configuration says it should be.
  const socket = await stat(config.socket.path).catch(() => undefined);
  const staffGid = gidOf(config.socket.group);
  const mode = socket ? socket.mode & 0o777 : 0;
  const socketWrong = !socket
    ? `${config.socket.path} is gone: restart libcamd`
    : mode !== 0o660
      ? `${config.socket.path} has mode 0${mode.toString(8)}, not 0660: ${mode & 0o006 ? 'any account can ask libcamd anything' : 'restart libcamd'}`
      : socket.gid !== staffGid
        ? `${config.socket.path} belongs to group ${socket.gid}, not ${config.socket.group} (${staffGid}): restart libcamd`
        : undefined;
  checks.push(check('socket', socketWrong === undefined, socketWrong ?? `${config.socket.path}: answering, mode 0660, group ${config.socket.group}`));

  const notify = await deps.outbox.status();
  const smtp = config.notify?.smtp;
  if (notify.to === null || !smtp) {
    checks.push(check('notify', false, 'notify is not configured: the Library Director is not e-mailed when footage is accessed (policy §3); set notify.director and notify.smtp'));
  } else {
    const relay = await relayProblem(smtp);
    const pending = `${notify.pending} pending, ${notify.delivered} delivered`;
    checks.push(
      relay
        ? check('notify', false, `the relay ${smtp.host}:${smtp.port} does not answer as it should (${relay}): ${pending}; check notify.smtp`)
        : check('notify', true, `to ${notify.to} through ${smtp.host}:${smtp.port}: ${pending}`),
    );
    checks.push(
      smtp.secure || smtp.requireTLS
        ? check('notify encryption', true, smtp.secure ? 'TLS from the first byte (secure)' : 'STARTTLS required (requireTLS)')
        : check('notify encryption', false, 'notices to the Director (who looked at what footage, and why) leave the box unencrypted: set notify.smtp.requireTLS: true'),
    );
  }

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
