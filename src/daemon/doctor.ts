import { stat, statfs } from 'node:fs/promises';
import type { Config } from '../config/types.js';
import { formatBytes, parseSize } from '../config/units.js';
import { LibcamError } from '../errors.js';
import { DAEMON_ELEMENTS, blacklistedPlugins, describeMissing, registryPath, unavailableElements } from '../pipeline/elements.js';
import type { DoctorCheck, DoctorResult, NotifyStatus } from '../protocol.js';
import { storeIdentityProblem } from '../store/identity.js';
import { INDEX_FORMAT, type IndexDb } from '../store/indexDb.js';
import type { CameraSet } from './cameraSet.js';
import { clockSynchronised } from './libc.js';

/** The GStreamer check, as start-up and doctor both make it. */
export async function gstreamerCheck(): Promise<DoctorCheck> {
  const missing = unavailableElements(DAEMON_ELEMENTS);
  if (missing.length === 0) return { name: 'gstreamer', ok: true, detail: `all ${DAEMON_ELEMENTS.length} elements libcamd uses can be made (registry ${registryPath()})` };
  return { name: 'gstreamer', ok: false, detail: describeMissing(missing, await blacklistedPlugins(), registryPath()) };
}

/** Start-up: refuse to run without the elements recording and stills need. */
export async function requireElements(): Promise<void> {
  const check = await gstreamerCheck();
  if (!check.ok) throw new LibcamError('environment', check.detail, { check: check.name });
}

export interface DoctorDeps {
  config: Config;
  index: IndexDb;
  cameras: CameraSet;
  notify: () => Promise<NotifyStatus>;
}

const check = (name: string, ok: boolean, detail: string): DoctorCheck => ({ name, ok, detail });

/** `libcam doctor`: this box, one line each, ok or what to do. */
export async function doctor(deps: DoctorDeps): Promise<DoctorResult> {
  const { config } = deps;
  const checks: DoctorCheck[] = [await gstreamerCheck()];

  const fs = await statfs(config.store.path);
  const free = fs.bavail * fs.bsize;
  const reserve = parseSize(config.retention.minFreeBytes) ?? 0;
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

  const notify = await deps.notify();
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
        ? `synchronised (${new Date().toISOString()})`
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
