import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { LibcamError, errnoOf } from '../../errors.js';
import { PURPOSES, type Purpose } from '../../purposes.js';
import { contextOf } from '../context.js';
import { printJson, printText } from '../output.js';
import { parseTime } from '../time.js';

interface StillOptions {
  camera: string;
  at: string;
  purpose: Purpose;
  requestedBy: string;
  out: string;
}

/** Refuses an --out that would overwrite a file or cannot be written, before any footage is read. */
async function checkOut(path: string): Promise<void> {
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new LibcamError('invalid-input', `--out: ${path} already exists; name a new file`, { flag: '--out', value: path });
  try {
    await access(dirname(path), constants.W_OK);
  } catch (err) {
    throw new LibcamError('invalid-input', `--out: cannot write in ${dirname(path)} (${errnoOf(err) ?? String(err)})`, { flag: '--out', value: path });
  }
}

export function registerStill(program: Command): void {
  program
    .command('still')
    .description('saves one still image (JPEG) of a camera at a time in its recorded footage, or now from the live picture')
    .requiredOption('--camera <name>', 'the camera')
    .requiredOption('--at <time>', 'when: ISO 8601 with a zone, -15m, or now for the live picture')
    .addOption(new Option('--purpose <purpose>', 'why the footage is looked at (policy §5)').choices(PURPOSES).makeOptionMandatory())
    .requiredOption('--requested-by <name>', 'the person who asked for it (stored in the audit trail)')
    .requiredOption('--out <file.jpg>', 'where to write the JPEG (a new file)')
    .addHelpText(
      'after',
      '\nA still from recorded footage is an access to archival data: it is written to the audit trail\n' +
        'and the Library Director is e-mailed (policy §3). A live still (--at now) is audited too.\n\n' +
        `Purposes: ${PURPOSES.join(', ')}.\n\n` +
        'Example:\n  libcam still --camera lobby --at 2026-11-28T14:05:00-06:00 --purpose crime-investigation \\\n' +
        '    --requested-by "J. Rivera, Director" --out lobby-1405.jpg',
    )
    .action(async (opts: StillOptions, command: Command) => {
      const { client, json, timeMs } = contextOf(command);
      if (opts.requestedBy.trim() === '') {
        throw new LibcamError('usage', '--requested-by: name the person who asked for the still', { flag: '--requested-by' });
      }
      const at = opts.at.trim() === 'now' ? 'now' : new Date(parseTime(opts.at, '--at')).toISOString();
      const out = resolve(opts.out);
      await checkOut(out);
      const result = await client.call('still', { camera: opts.camera, at, purpose: opts.purpose, requestedBy: opts.requestedBy });
      const file = await open(out, 'wx', 0o640);
      try {
        await file.writeFile(Buffer.from(result.jpeg, 'base64'));
        await file.sync();
      } finally {
        await file.close();
      }
      const summary = {
        path: out,
        camera: result.camera,
        at: result.at,
        sha256: result.sha256,
        requested: result.requested,
        live: result.live,
        width: result.width,
        height: result.height,
        segment: result.segment,
        auditSeq: result.auditSeq,
        notification: result.notification,
      };
      if (json) return printJson(summary);
      const notified = result.notification ? '; the Library Director will be notified' : '';
      printText(`${out}: ${result.camera} at ${timeMs(result.at)}, ${result.width}x${result.height} (audit entry #${result.auditSeq}${notified})`);
    });
}
