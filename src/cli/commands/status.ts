import type { Command } from 'commander';
import { formatBytes, formatDuration } from '../../config/units.js';
import type { CameraStatus, StatusResult } from '../../protocol.js';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';
import type { ShowTime } from '../time.js';

/** Why the camera is not recording: every reason that applies, the pause first. */
function detail(camera: CameraStatus, time: ShowTime): string | null {
  const reasons = camera.suspensions.map((s) =>
    s.kind === 'pause' && camera.pause ? `paused (${camera.pause.reason}) until ${time(camera.pause.until)} by ${camera.pause.by}` : s.reason,
  );
  return reasons.length > 0 ? reasons.join('; ') : camera.reason;
}

function notifyLine(notify: StatusResult['notify'], time: ShowTime): string {
  const to = notify.to ?? 'nobody (notify is not configured)';
  const pending = notify.pending === 0 ? 'none pending' : `${notify.pending} pending, next try ${notify.nextAttempt ? time(notify.nextAttempt) : 'now'}`;
  const error = notify.pending > 0 && notify.lastError ? `; last error ${notify.lastErrorAt ? time(notify.lastErrorAt) : ''}: ${notify.lastError}` : '';
  return `Director notifications to ${to}: ${pending}, ${notify.delivered} delivered${error}`;
}

export function renderStatus(status: StatusResult, time: ShowTime): string {
  const head =
    `libcamd ${status.version}, up ${formatDuration(status.uptimeS * 1000)}; store ${status.store.path}: ${formatBytes(status.store.bytes)} of footage, ${formatBytes(status.store.freeBytes)} free\n` +
    notifyLine(status.notify, time) +
    `\nIncidents: ${status.incidents.open} open, ${status.incidents.collecting} collecting live footage; their clips ${formatBytes(status.incidents.clipBytes)} (held, under no retention limit)` +
    `\nAppliance key (signs the audit trail): ${status.appliance.fingerprint}` +
    `\nlibcamd: ${formatBytes(status.process.rssBytes)} resident, ${status.process.openFiles} open files, ${Math.round(status.process.cpuSeconds)} CPU s since start`;
  if (status.cameras.length === 0) return `${head}\nno cameras configured`;
  const rows = status.cameras.map((c) => [c.name, c.state, time(c.since), c.lastSegmentEnd === null ? null : time(c.lastSegmentEnd), detail(c, time)]);
  return `${head}\n\n${table(['CAMERA', 'STATE', 'SINCE', 'LAST SEGMENT END', 'DETAIL'], rows)}`;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("the daemon's version, uptime and store use, and each camera's state")
    .addHelpText(
      'after',
      '\nCamera states: recording, connecting, backoff (waiting to retry), paused, disabled, error (see DETAIL).\n\nExample:\n  libcam status --json | jq \'.cameras[] | select(.state != "recording")\'',
    )
    .action(async (_opts: unknown, command: Command) => {
      const { client, json, time } = contextOf(command);
      const status = await client.call('status', {});
      if (json) printJson(status);
      else printText(renderStatus(status, time));
    });
}
