import type { Command } from 'commander';
import { LibcamError } from '../../errors.js';
import { DAEMON_ELEMENTS, describeMissing, inspectElements, registryPath } from '../../pipeline/elements.js';
import type { DoctorCheck, DoctorResult } from '../../protocol.js';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';

export function renderDoctor(result: DoctorResult): string {
  const rows = result.checks.map((c) => [c.ok ? 'ok' : 'FAIL', c.name, c.detail]);
  const failed = result.checks.filter((c) => !c.ok).length;
  return `${table(['', 'CHECK', 'DETAIL'], rows)}\n\n${failed === 0 ? 'everything checked is in order' : `${failed} of ${result.checks.length} checks need attention`}`;
}

/** What can be checked here when libcamd does not answer: the socket, and GStreamer as this account sees it. */
async function withoutDaemon(error: LibcamError): Promise<DoctorResult> {
  const checks: DoctorCheck[] = [{ name: 'socket', ok: false, detail: `${error.message}. If libcamd will not start, journalctl -u libcamd says why` }];
  try {
    const known = await inspectElements();
    const missing = DAEMON_ELEMENTS.filter((e) => !known.has(e.element));
    checks.push({
      name: 'gstreamer',
      ok: missing.length === 0,
      detail:
        (missing.length === 0 ? `all ${DAEMON_ELEMENTS.length} elements libcamd uses are registered` : describeMissing(missing, [], registryPath())) +
        ' (as this account sees them: libcamd has a registry of its own in its state directory)',
    });
  } catch (err) {
    checks.push({ name: 'gstreamer', ok: false, detail: `gst-inspect-1.0 failed (${err instanceof Error ? err.message : String(err)}): install gstreamer1.0-tools` });
  }
  return { ok: false, checks };
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('checks this box: GStreamer elements, the store disk and identity, the index, the socket, notify, the clock, the cameras')
    .addHelpText(
      'after',
      '\nEach line is ok, or says what to do. Exit status 0 when every check is ok, 1 when one is not,\n' +
        '3 when libcamd does not answer (the checks that need no daemon are still printed).',
    )
    .action(async (_opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      let result: DoctorResult;
      let status = 0;
      try {
        result = await client.call('doctor', {});
      } catch (err) {
        if (!(err instanceof LibcamError) || err.code !== 'unavailable') throw err;
        result = await withoutDaemon(err);
        status = 3;
      }
      if (json) printJson(result);
      else printText(renderDoctor(result));
      process.exitCode = status !== 0 ? status : result.ok ? 0 : 1;
    });
}
