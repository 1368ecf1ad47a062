import { readdir, statfs } from 'node:fs/promises';
import { iso } from '../../clock.js';
import type { CameraReport } from '../../pipeline/runtime.js';
import type { CameraStatus, NotifyStatus, StatusResult } from '../../protocol.js';
import { VERSION } from '../../version.js';
import type { Handlers } from '../dispatcher.js';
import type { OutboxStatus } from '../outbox.js';
import type { PauseRecord } from '../pauses.js';
import type { MethodDeps } from './context.js';

export function cameraStatus(c: CameraReport, pause: PauseRecord | undefined): CameraStatus {
  return {
    name: c.name,
    state: c.state,
    since: iso(c.since),
    lastSegmentEnd: c.lastSegmentEnd === null ? null : iso(c.lastSegmentEnd),
    pause: pause ? { reason: pause.reason, until: iso(pause.until), by: pause.by, note: pause.note } : null,
    reason: c.reason,
    suspensions: c.suspensions,
    transport: c.transport,
    liveViewers: c.liveViewers,
  };
}

export function notifyStatus(s: OutboxStatus): NotifyStatus {
  const at = (ms: number | null): string | null => (ms === null ? null : iso(ms));
  return { ...s, lastErrorAt: at(s.lastErrorAt), lastDeliveredAt: at(s.lastDeliveredAt), nextAttempt: at(s.nextAttempt) };
}

/** libcamd's memory, open descriptors and CPU time, for status (and the soak that watches them). */
async function processUse(): Promise<StatusResult['process']> {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  const openFiles = await readdir('/proc/self/fd').then(
    (fds) => fds.length - 1, // the directory handle being read is one of them
    () => -1,
  );
  return { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, externalBytes: memory.external, openFiles, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** `libcam status`: version, uptime, store use, every camera, the Director's outbox. */
export function statusMethods(d: MethodDeps): Pick<Handlers, 'status'> {
  return {
    status: async () => {
      const fs = await statfs(d.config.store.path);
      const incidents = await d.incidents.list();
      return {
        version: VERSION,
        uptimeS: Math.floor((d.clock.now() - d.startedAt) / 1000),
        store: { path: d.config.store.path, bytes: await d.store.totalBytes(), freeBytes: fs.bavail * fs.bsize },
        cameras: await Promise.all(d.cameras.status().map(async (c) => cameraStatus(c, await d.pauses.info(c.name)))),
        notify: notifyStatus(await d.outbox.status()),
        incidents: {
          open: incidents.filter((i) => i.state === 'open' || i.state === 'cutting').length,
          collecting: incidents.filter((i) => i.state === 'collecting').length,
          clipBytes: incidents.filter((i) => i.state !== 'released').reduce((n, i) => n + i.clips.reduce((m, c) => m + c.bytes, 0), 0),
        },
        appliance: { fingerprint: d.trail.appliance.fingerprint, publicKeyPem: d.trail.appliance.publicKeyPem },
        process: await processUse(),
      };
    },
  };
}
