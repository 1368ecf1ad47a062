import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { LibcamError, errnoOf } from '../../errors.js';
import { ROLES, type Role } from '../../evidence/policy.js';
import type { ApproverInfo } from '../../protocol.js';
import { askPassphrases, normalizeKeyId, parseApprover, type ApproverFlag } from '../approverFlags.js';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';
import { readNewSecret } from '../prompt.js';

const collectApprover = (value: string, all: ApproverFlag[]): ApproverFlag[] => [...all, parseApprover(value)];

const DUAL_CONTROL_HELP =
  '\nChanging who may approve is itself dual-controlled (policy §3): once the enrolled approvers\n' +
  'form an allowed pair (director with president, or assistant with president), an enrolment or\n' +
  'a revocation needs two of them forming one: --approver ROLE --approver ROLE, and their\n' +
  'passphrases are asked (after the new approver\'s own). Until then — the first approvers of a\n' +
  'new box — enrolment is open. Every change is audited and the Library Director is e-mailed the\n' +
  'key fingerprint: the board keeps the fingerprints on paper.\n\n' +
  'Passphrases are read from the terminal without echo (else one per line from standard input).\n';

function renderApprover(a: ApproverInfo): string {
  return [
    `${a.role}: ${a.name}${a.revoked ? ` (revoked ${a.revoked})` : ''}`,
    `  key id     ${a.keyId}`,
    `  key kept   ${a.custody === 'box' ? 'on this box, sealed with the approver’s passphrase' : 'on the approver’s own computer (approves with libcam approve --signature)'}`,
    `  approved   ${a.approvedBy.length > 0 ? a.approvedBy.map((b) => `${b.role} ${b.keyId}`).join(', ') : 'by nobody: the first approvers of this box'}`,
    '',
    'Write the key id down on paper for the board: every export this approver signs names it.',
  ].join('\n');
}

async function readPublicKey(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new LibcamError('invalid-input', `--public-key: ${file} cannot be read (${errnoOf(err) ?? String(err)})`, { flag: '--public-key' });
  }
}

export function registerApprovers(program: Command): void {
  const approvers = program
    .command('approvers')
    .description('who may approve a release of footage to law enforcement (policy §3), and their keys');
  approvers
    .command('enroll')
    .description("enrols an approver: makes an Ed25519 key sealed with the approver's passphrase (asked twice), or takes the public half of one they made")
    .addOption(new Option('--role <role>', 'the approver’s role').choices(ROLES).makeOptionMandatory())
    .requiredOption('--name <name>', 'the approver’s name, as it goes on bundles and receipts')
    .option('--public-key <file>', 'a public key the approver made on their own computer (PEM): its private half never touches this box')
    .option('--approver <role[=keyid]>', 'once the box has an allowed pair: an enrolled approver who approves this (twice)', collectApprover, [])
    .addHelpText(
      'after',
      DUAL_CONTROL_HELP +
        '\nThe passphrase must be strong (checked with zxcvbn): a few unrelated words do well. It is\n' +
        'never stored: it seals the key with scrypt (128 MiB, N=2^17) and AES-256-GCM.\n\n' +
        'A key of the approver’s own, made on their computer with stock openssl:\n' +
        '  openssl genpkey -algorithm ed25519 -out approver.key\n' +
        '  openssl pkey -in approver.key -pubout -out approver.pub     (only approver.pub comes here)\n\n' +
        'Examples:\n  libcam approvers enroll --role director --name "J. Rivera"\n' +
        '  libcam approvers enroll --role president --name "A. Chen" --public-key chen.pub\n' +
        '  libcam approvers enroll --role assistant --name "M. Ortiz" --approver director --approver president',
    )
    .action(async (opts: { role: Role; name: string; publicKey?: string; approver: ApproverFlag[] }, command: Command) => {
      const { client, json } = contextOf(command);
      if (opts.name.trim() === '') throw new LibcamError('usage', '--name: the approver’s name is needed', { flag: '--name' });
      const publicKeyPem = opts.publicKey === undefined ? undefined : await readPublicKey(opts.publicKey);
      const passphrase = publicKeyPem === undefined ? await readNewSecret(`New passphrase for ${opts.name} (${opts.role}): `, 'The same passphrase again: ') : undefined;
      const approvals = opts.approver.length > 0 ? await askPassphrases(opts.approver, `enrolling ${opts.name} as ${opts.role}`) : [];
      const result = await client.call('approvers.enroll', {
        role: opts.role,
        name: opts.name,
        ...(passphrase === undefined ? {} : { passphrase }),
        ...(publicKeyPem === undefined ? {} : { publicKeyPem }),
        ...(approvals.length > 0 ? { approvals } : {}),
      });
      if (json) return printJson(result);
      printText(`enrolled\n${renderApprover(result)}\n\nThe Library Director will be notified.`);
    });
  approvers
    .command('list')
    .description('enrolled approvers: role, name, key id (fingerprint), enrolled, revoked')
    .action(async (_opts: unknown, command: Command) => {
      const { client, json, time } = contextOf(command);
      const list = await client.call('approvers.list', {});
      if (json) return printJson(list);
      if (list.length === 0) return printText('no approvers enrolled (libcam approvers enroll --help)');
      printText(
        table(
          ['ROLE', 'NAME', 'KEY ID', 'KEY KEPT', 'ENROLLED', 'REVOKED'],
          list.map((a) => [a.role, a.name, a.keyId, a.custody === 'box' ? 'this box' : 'own computer', time(a.enrolled), a.revoked === null ? (a.lockedUntil ? `locked until ${time(a.lockedUntil)}` : null) : time(a.revoked)]),
        ),
      );
    });
  approvers
    .command('revoke')
    .argument('<keyid>', 'the key id (fingerprint) from libcam approvers list, or enough of its first hex digits')
    .description('revokes an approver’s key: it approves nothing from then on (its sealed private key is destroyed)')
    .option('--approver <role[=keyid]>', 'an enrolled approver who approves this (twice, forming an allowed pair)', collectApprover, [])
    .addHelpText('after', `${DUAL_CONTROL_HELP}\nExample:\n  libcam approvers revoke SHA256:3f2a9c0d --approver director --approver president`)
    .action(async (keyId: string, opts: { approver: ApproverFlag[] }, command: Command) => {
      const { client, json } = contextOf(command);
      const approvals = opts.approver.length > 0 ? await askPassphrases(opts.approver, `revoking the key ${keyId}`) : [];
      const result = await client.call('approvers.revoke', { keyId: normalizeKeyId(keyId), ...(approvals.length > 0 ? { approvals } : {}) });
      if (json) return printJson(result);
      printText(`revoked\n${renderApprover(result)}\n\nThe Library Director will be notified.`);
    });
}
