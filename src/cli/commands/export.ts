import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { formatBytes } from '../../config/units.js';
import { LibcamError, errnoOf } from '../../errors.js';
import { LEGAL_BASES, type LegalBasis } from '../../evidence/bundle.js';
import type { ApproverInfo, ExportInfo } from '../../protocol.js';
import { approverParam, normalizeKeyId, parseApprover, type ApproverFlag } from '../approverFlags.js';
import { checkBundleDir, writeBundle } from '../bundleWriter.js';
import type { Client } from '../client.js';
import { contextOf } from '../context.js';
import { printJson, printText } from '../output.js';
import { readSecret } from '../prompt.js';
import type { ShowTime } from '../time.js';

interface ExportOptions {
  incident?: string;
  approver: ApproverFlag[];
  legalBasis?: LegalBasis;
  reference?: string;
  officer?: string;
  badge?: string;
  agency?: string;
  to?: string;
  request?: boolean;
  complete?: string;
  show?: string;
  out?: string;
}

const collectApprover = (value: string, all: ApproverFlag[]): ApproverFlag[] => [...all, parseApprover(value)];

/** Status lines for a person (stderr): stdout stays the result alone. */
const say = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

function describe(info: ExportInfo, time: ShowTime): string {
  const lb = info.legalBasis;
  return [
    `Export ${info.request} of incident ${info.incident}`,
    `  legal basis  ${lb.basis}, ${lb.reference}${lb.officer ? `; officer ${lb.officer}, badge ${lb.badge ?? ''}, ${lb.agency ?? ''}` : ''}`,
    `  approvers    ${info.approvers.map((a) => `${a.role} ${a.name} (${a.keyId})`).join('; ')}`,
    `  manifest     sha256 ${info.manifestSha256}`,
    `  ${info.state === 'pending' ? `waits until ${time(info.expires)}` : 'approved'}; approvals in: ${info.approvals.length > 0 ? info.approvals.map((a) => `${a.role} at ${time(a.at)}`).join(', ') : 'none'}`,
  ].join('\n');
}

/** A wrong passphrase the approver may type again (the daemon counts the tries; the last one locks the key). */
const mayTryAgain = (err: unknown): boolean => err instanceof LibcamError && err.details['flag'] === 'passphrase' && typeof err.details['triesLeft'] === 'number' && err.details['triesLeft'] > 0;

/** One approver's passphrase, asked again after a wrong one, up to the lock. */
async function approveByPassphrase(client: Client, info: ExportInfo, approver: ExportInfo['approvers'][number]): Promise<ExportInfo> {
  for (;;) {
    const passphrase = await readSecret(`Passphrase of the ${approver.role} (${approver.name}), to approve releasing ${info.incident}: `);
    try {
      return await client.call('export.approve', { request: info.request, role: approver.role, keyId: approver.keyId, passphrase });
    } catch (err) {
      if (!mayTryAgain(err)) throw err;
      say(`libcam: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Refuses, before anything is asked of the daemon, an approver whose key is on their own computer. */
async function requireBoxKeys(client: Client, flags: readonly ApproverFlag[]): Promise<void> {
  const active = (await client.call('approvers.list', {})).filter((a) => a.revoked === null);
  for (const flag of flags) {
    const matches = active.filter((a: ApproverInfo) => a.role === flag.role && (flag.keyId === undefined || a.keyId.replace(/^SHA256:/, '').startsWith(flag.keyId)));
    const [only, second] = matches;
    if (only && !second && only.custody === 'own') {
      throw new LibcamError(
        'usage',
        `--approver ${flag.role}: ${only.name} keeps their key on their own computer, so they cannot type a passphrase here: ask with --request (instead of --to); they sign its manifest with openssl and libcam approve REQ --signature FILE`,
        { flag: '--approver' },
      );
    }
  }
}

/** Fetches a completed export into an empty folder, verifies it there, and says so. */
async function completeTo(client: Client, request: string, to: string, json: boolean): Promise<void> {
  const dir = await checkBundleDir(to);
  const completed = await client.call('export.complete', { request });
  const { bytes, verdict } = await writeBundle(client, completed, dir);
  if (!verdict.valid) {
    throw new LibcamError('io', `the bundle written to ${dir} does not verify; do not hand it over:\n  ${verdict.problems.join('\n  ')}`, { dir, problems: verdict.problems });
  }
  await client.call('export.delivered', { request, dir, files: completed.files.length, bytes });
  const result = {
    bundle: dir,
    request,
    manifestSha256: completed.manifestSha256,
    files: completed.files.length,
    bytes,
    approvers: verdict.approvers.map((a) => ({ role: a.role, name: a.name, keyId: a.keyId, approvedAt: a.approvedAt })),
    appliance: verdict.appliance,
  };
  if (json) return printJson(result);
  printText(
    [
      `Bundle written to ${dir} and verified there (${completed.files.length} files, ${formatBytes(bytes)}).`,
      `  export       ${request}`,
      `  manifest     sha256 ${completed.manifestSha256}`,
      ...verdict.approvers.map((a) => `  ${a.role.padEnd(12)} ${a.name}, key ${a.keyId}`),
      `  appliance    key ${verdict.appliance ?? '?'}`,
      '',
      'Print receipt.html for the officer and the releasing staff member to sign. VERIFY.txt tells',
      'anyone how to check the bundle with libcam verify, or with sha256sum and openssl alone.',
    ].join('\n'),
  );
}

async function requestExport(client: Client, opts: ExportOptions): Promise<ExportInfo> {
  const missing = (['incident', 'legalBasis', 'reference'] as const).filter((k) => opts[k] === undefined).map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  if (missing.length > 0) throw new LibcamError('usage', `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} required for an export`, { flag: missing[0] });
  if (opts.approver.length !== 2) {
    throw new LibcamError('usage', `--approver: exactly two approvers are needed (policy §3: director with president, or assistant with president); ${opts.approver.length} given`, { flag: '--approver' });
  }
  return client.call('export.request', {
    incident: opts.incident ?? '',
    approvers: opts.approver.map(approverParam),
    legalBasis: opts.legalBasis ?? 'court-order',
    reference: opts.reference ?? '',
    ...(opts.officer === undefined ? {} : { officer: opts.officer }),
    ...(opts.badge === undefined ? {} : { badge: opts.badge }),
    ...(opts.agency === undefined ? {} : { agency: opts.agency }),
  });
}

async function writeManifest(info: ExportInfo, out: string | undefined): Promise<string> {
  const file = resolve(out ?? `${info.request}.manifest.json`);
  try {
    await writeFile(file, info.manifest ?? '', { flag: 'wx' });
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') throw new LibcamError('invalid-input', `--out: ${file} exists; name another file`, { flag: '--out' });
    throw err;
  }
  return file;
}

function remoteInstructions(info: ExportInfo, file: string, time: ShowTime): string {
  const pending = info.approvers.filter((a) => !info.approvals.some((x) => x.keyId === a.keyId));
  const lines = [`Export ${info.request} waits for its approvals until ${time(info.expires)}.`, `  manifest  ${file}`, `  sha256    ${info.manifestSha256}`, ''];
  for (const a of pending) {
    if (a.custody === 'box') {
      lines.push(`The ${a.role} (${a.name}), in their own session on this box:`, `  libcam approve ${info.request} --approver ${a.role}`, '');
    } else {
      lines.push(
        `The ${a.role} (${a.name}), on their own computer, after checking that sha256sum prints the digest above:`,
        `  openssl pkeyutl -sign -rawin -inkey THEIR-KEY.key -in ${info.request}.manifest.json -out ${a.role}.sig`,
        `then here: libcam approve ${info.request} --signature ${a.role}.sig`,
        '',
      );
    }
  }
  lines.push(`Once both approvals are in: libcam export --complete ${info.request} --to DIR`);
  return lines.join('\n');
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description("releases an incident's footage to law enforcement (policy §3, §5): two approvers sign, the bundle is written and verified")
    .option('--incident <id>', 'the incident to release, such as INC-20261128-001')
    .option('--approver <role[=keyid]>', 'an approver (twice): director with president, or assistant with president', collectApprover, [])
    .addOption(new Option('--legal-basis <basis>', 'what the release is required by (policy §5)').choices(LEGAL_BASES))
    .option('--reference <text>', 'the case, court order or subpoena number')
    .option('--officer <name>', 'the officer receiving it (required for emergency)')
    .option('--badge <no>', "the officer's badge number (required for emergency)")
    .option('--agency <name>', "the officer's agency (required for emergency)")
    .option('--to <dir>', 'write the bundle into this folder (empty, or made)')
    .option('--request', 'instead of --to: ask now, approve later (each approver in their own session, or with a signature)')
    .option('--complete <req>', 'write the bundle of an approved request (with --to)')
    .option('--show <req>', 'show a request; with --out, save its manifest (what the approvers sign)')
    .option('--out <file>', 'with --request or --show: where to save the manifest (default REQ.manifest.json here)')
    .addHelpText(
      'after',
      '\nAt the terminal, each approver types their passphrase in turn (no echo; three wrong ones lock\n' +
        'that key for 15 minutes). Remotely: --request makes a pending export (72 hours) and saves its\n' +
        'manifest; each approver runs libcam approve REQ in their own session, or — with a key of\n' +
        'their own — signs the manifest with openssl on their computer; then --complete writes it.\n\n' +
        'The bundle (segments as recorded, clips, manifest.json, signatures, keys, SHA256SUMS,\n' +
        'VERIFY.txt, index.html, receipt.html) is fsynced, read back from the disk and verified before\n' +
        'success is reported. Every request, approval, refusal and export is audited, and the Library\n' +
        'Director is e-mailed the legal basis, officer and approvers of each export.\n\n' +
        'Examples:\n' +
        '  libcam export --incident INC-20261128-001 --approver director --approver president \\\n' +
        '    --legal-basis court-order --reference "CR-2026-0412" --to /media/usb/INC-20261128-001\n' +
        '  libcam export --incident INC-20261128-001 --approver assistant --approver president \\\n' +
        '    --legal-basis emergency --reference "CAD 26-88123" --officer "D. Moss" --badge 4471 --agency "Springfield PD" --request\n' +
        '  libcam export --complete EXP-20261128-001 --to /media/usb/INC-20261128-001',
    )
    .action(async (opts: ExportOptions, command: Command) => {
      const { client, json, time } = contextOf(command);
      if (opts.show !== undefined) {
        const info = await client.call('export.show', { request: opts.show });
        const file = opts.out === undefined ? null : await writeManifest(info, opts.out);
        if (json) return printJson({ ...info, manifest: undefined, manifestFile: file });
        return printText(`${describe(info, time)}${file ? `\n  saved        ${file}` : ''}`);
      }
      if (opts.complete !== undefined) {
        if (opts.to === undefined) throw new LibcamError('usage', '--complete needs --to DIR: the empty folder the bundle goes into', { flag: '--to' });
        return completeTo(client, opts.complete, opts.to, json);
      }
      if (opts.request === true) {
        if (opts.to !== undefined) throw new LibcamError('usage', '--request and --to: give one (--to approves at the terminal now; --request approves later)', { flag: '--request' });
        const info = await requestExport(client, opts);
        const file = await writeManifest(info, opts.out);
        if (json) return printJson({ request: info.request, manifestSha256: info.manifestSha256, expires: info.expires, manifestFile: file, approvers: info.approvers });
        return printText(remoteInstructions(info, file, time));
      }
      if (opts.to === undefined) throw new LibcamError('usage', '--to DIR (write it now, approving at the terminal) or --request (approve later)', { flag: '--to' });
      const dir = await checkBundleDir(opts.to);
      if (opts.approver.length === 2) await requireBoxKeys(client, opts.approver);
      let info = await requestExport(client, opts);
      if (!json) say(describe(info, time));
      try {
        for (const approver of info.approvers) info = await approveByPassphrase(client, info, approver);
      } catch (err) {
        say(`libcam: ${info.request} stays pending (it expires ${time(info.expires)}); approvals can still be given with libcam approve ${info.request}`);
        throw err;
      }
      await completeTo(client, info.request, dir, json);
    });

  program
    .command('approve')
    .argument('<req>', 'the export request, such as EXP-20261128-001')
    .description('approves a pending export: your passphrase (your key is sealed on this box) or --signature FILE (your own key)')
    .option('--approver <role[=keyid]>', 'which of the approvers you are (needed when two of them approve by passphrase)', parseApprover)
    .option('--signature <file>', 'your Ed25519 signature over the request’s manifest, made with openssl pkeyutl -sign -rawin')
    .addHelpText(
      'after',
      '\nBefore you approve, check the manifest: libcam export --show REQ --out FILE, and read it.\n' +
        'With a key of your own, sign that file on your computer with stock openssl:\n' +
        '  openssl pkeyutl -sign -rawin -inkey your.key -in REQ.manifest.json -out my.sig\n\n' +
        'Examples:\n  libcam approve EXP-20261128-001 --approver director\n  libcam approve EXP-20261128-001 --signature my.sig',
    )
    .action(async (request: string, opts: { approver?: ApproverFlag; signature?: string }, command: Command) => {
      const { client, json, time } = contextOf(command);
      const info = await client.call('export.show', { request });
      if (info.state === 'approved') throw new LibcamError('conflict', `${request} has both approvals already: libcam export --complete ${request} --to DIR`, { request });
      const pending = info.approvers.filter((a) => !info.approvals.some((x) => x.keyId === a.keyId));
      const flag = opts.approver;
      const named = flag ? pending.filter((a) => a.role === flag.role && (flag.keyId === undefined || normalizeKeyId(a.keyId).startsWith(flag.keyId))) : pending;
      if (flag && named.length === 0) throw new LibcamError('invalid-input', `--approver: ${request} does not wait for the ${flag.role}; it waits for ${pending.map((a) => a.role).join(' and ') || 'nobody'}`, { flag: '--approver' });
      if (!json) say(describe(info, time));
      let result: ExportInfo;
      if (opts.signature !== undefined) {
        let signature = await readFile(opts.signature).catch((err: unknown) => {
          throw new LibcamError('invalid-input', `--signature: ${opts.signature ?? ''} cannot be read (${errnoOf(err) ?? String(err)})`, { flag: '--signature' });
        });
        const text = signature.toString('latin1').trim();
        if (signature.length !== 64 && /^[A-Za-z0-9+/]{86}==$/.test(text)) signature = Buffer.from(text, 'base64');
        const keys = new Map((await client.call('approvers.list', {})).map((a) => [a.keyId, a.publicKeyPem]));
        const manifest = Buffer.from(info.manifest ?? '');
        const signer = named.find((a) => {
          const pem = keys.get(a.keyId);
          try {
            return pem !== undefined && verifySignature(null, manifest, createPublicKey(pem), signature);
          } catch {
            return false;
          }
        });
        if (!signer) {
          throw new LibcamError('invalid-input', `--signature: ${opts.signature} is not a signature over ${request}'s manifest (sha256 ${info.manifestSha256}) by ${named.map((a) => `the ${a.role} (${a.keyId})`).join(' or ')}`, {
            flag: '--signature',
          });
        }
        result = await client.call('export.approve', { request, role: signer.role, keyId: signer.keyId, signature: signature.toString('base64') });
      } else {
        const byPassphrase = named.filter((a) => a.custody === 'box');
        const [only, second] = byPassphrase;
        if (!only) throw new LibcamError('usage', `${named.map((a) => `the ${a.role} (${a.name})`).join(' and ')} approve${named.length === 1 ? 's' : ''} with a signature: --signature FILE`, { flag: '--signature' });
        if (second) throw new LibcamError('usage', `--approver ROLE: say which approver you are (${byPassphrase.map((a) => a.role).join(' or ')})`, { flag: '--approver' });
        result = await approveByPassphrase(client, info, only);
      }
      if (json) return printJson({ request: result.request, state: result.state, approvals: result.approvals.map((a) => ({ role: a.role, name: a.name, keyId: a.keyId, at: a.at })) });
      const waiting = result.approvers.filter((a) => !result.approvals.some((x) => x.keyId === a.keyId));
      printText(
        result.state === 'approved'
          ? `approved: both approvals are in. The bundle can be written: libcam export --complete ${request} --to DIR`
          : `approved; ${request} still waits for the ${waiting.map((a) => `${a.role} (${a.name})`).join(' and ')} until ${time(result.expires)}`,
      );
    });
}
