import { Option, type Command } from 'commander';
import type { PauseParams, ResumeParams } from '../../protocol.js';
import { contextOf } from '../context.js';
import { printJson, printText } from '../output.js';

export function registerPause(program: Command): void {
  program
    .command('pause')
    .description('stops recording on a camera (or all) for maintenance or patron privacy; it resumes by itself after --for')
    .option('--camera <name>', 'the camera to pause')
    .option('--all', 'every camera')
    .addOption(new Option('--reason <reason>', 'why: shown in status and as the gap\'s cause').choices(['maintenance', 'privacy']).makeOptionMandatory())
    .requiredOption('--for <duration>', 'how long: 30s, 15m, 2h (at most pause.maxDuration, 8h unless configured)')
    .option('--note <text>', 'a word for whoever reads status or the audit trail')
    .addHelpText(
      'after',
      '\nPausing a paused camera again extends the pause (same reason) or replaces it (other reason).\n' +
        'Every pause and resume is in the audit trail with your account.\n\nExample:\n  libcam pause --camera reading-room --reason privacy --for 45m --note "story time"',
    )
    .action(async (opts: { camera?: string; all?: boolean; reason: 'maintenance' | 'privacy'; for: string; note?: string }, command: Command) => {
      const { client, json, time } = contextOf(command);
      const params: PauseParams = { reason: opts.reason, for: opts.for };
      if (opts.camera !== undefined) params.camera = opts.camera;
      if (opts.all === true) params.all = true;
      if (opts.note !== undefined) params.note = opts.note;
      const result = await client.call('pause', params);
      if (json) return printJson(result);
      const how = { new: 'paused', extended: 'pause extended', replaced: 'pause replaced' };
      printText(result.paused.map((p) => `${p.camera}: ${how[p.mode]} for ${p.reason} until ${time(p.until)}`).join('\n'));
    });

  program
    .command('resume')
    .description('ends a pause now')
    .option('--camera <name>', 'the camera to resume')
    .option('--all', 'every paused camera')
    .action(async (opts: { camera?: string; all?: boolean }, command: Command) => {
      const { client, json } = contextOf(command);
      const params: ResumeParams = {};
      if (opts.camera !== undefined) params.camera = opts.camera;
      if (opts.all === true) params.all = true;
      const result = await client.call('resume', params);
      if (json) return printJson(result);
      printText(result.resumed.length === 0 ? 'no camera was paused' : result.resumed.map((c) => `${c}: recording resumes`).join('\n'));
    });
}
