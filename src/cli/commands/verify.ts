import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { LibcamError, errnoOf } from '../../errors.js';
import { verifyBundle } from '../../evidence/verify.js';
import { normalizeKeyId } from '../approverFlags.js';
import { printJson, printText } from '../output.js';

/** The exit status of an invalid bundle (docs/cli.md). */
const INVALID = 4;

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .argument('<dir>', 'the bundle folder')
    .description('checks an export bundle offline, with no daemon: every hash, every signature, the approval rule')
    .option('--appliance <keyid>', 'the key id (fingerprint) of the appliance the bundle must come from, as the board keeps it')
    .option('--approver-key <keyid>', "an approver's key id as the board keeps it (repeat): each approver's key must be one of them", (v: string, all: string[]) => [...all, v], [])
    .addHelpText(
      'after',
      '\nChecks every file against its SHA-256, that nothing is missing or added, both approvers’\n' +
        'signatures and the appliance’s over manifest.json, that the keys in keys/ are the ones the\n' +
        'manifest names, that the approvers’ roles form an allowed pair (two keys, two roles), the\n' +
        'clips’ segments and their hash chain, and the signatures of the incident’s audit entries.\n' +
        'Compare the key ids it prints with those the board keeps on paper, or give them with\n' +
        '--appliance and --approver-key: a bundle signed by any other key is then invalid.\n\n' +
        'Exit status: 0 valid, 4 invalid (every problem is listed), 2 no such folder.\n\n' +
        'Example:\n  libcam verify /media/usb/INC-20261128-001 --appliance SHA256:9c41… --approver-key SHA256:e465… --approver-key SHA256:1f39…',
    )
    .action(async (dir: string, opts: { appliance?: string; approverKey: string[] }, command: Command) => {
      const json = command.optsWithGlobals<{ json?: boolean }>().json === true;
      const path = resolve(dir);
      try {
        if (!(await stat(path)).isDirectory()) throw new LibcamError('usage', `${path} is not a folder`, { dir: path });
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') throw new LibcamError('not-found', `${path}: no such folder`, { dir: path });
        throw err;
      }
      const appliance = opts.appliance === undefined ? undefined : `SHA256:${normalizeKeyId(opts.appliance)}`;
      const verdict = await verifyBundle(path, { appliance, approverKeys: opts.approverKey.map((k) => `SHA256:${normalizeKeyId(k)}`) });
      if (!verdict.valid) process.exitCode = INVALID;
      const pinned = { appliance: appliance !== undefined, approvers: opts.approverKey.length > 0 };
      if (json) return printJson({ valid: verdict.valid, problems: verdict.problems, approvers: verdict.approvers, manifestSha256: verdict.manifestSha256, appliance: verdict.appliance, request: verdict.request, incident: verdict.incident, pinned });
      const lines = [verdict.valid ? `VALID: ${path}` : `INVALID: ${path}`];
      if (verdict.request) lines.push(`  export       ${verdict.request} of incident ${verdict.incident ?? '?'}`);
      if (verdict.manifestSha256) lines.push(`  manifest     sha256 ${verdict.manifestSha256}`);
      for (const a of verdict.approvers) lines.push(`  ${a.role.padEnd(12)} ${a.name}, key ${a.keyId}${a.ok ? `, signature good${a.approvedAt ? `, approved ${a.approvedAt}` : ''}` : ', signature BAD'}`);
      if (verdict.appliance) lines.push(`  appliance    key ${verdict.appliance}`);
      if (verdict.valid && !(pinned.appliance && pinned.approvers)) {
        lines.push('', 'The bundle is whole and signed by the keys it names. Whether those are the library’s keys only', 'the board’s paper tells: compare the key ids above with it, or pass --appliance and --approver-key.');
      }
      if (!verdict.valid) lines.push('', `${verdict.problems.length} problem${verdict.problems.length === 1 ? '' : 's'}:`, ...verdict.problems.map((p) => `  - ${p}`));
      printText(lines.join('\n'));
    });
}
