import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { chromium } from 'playwright-core';
import t from 'tap';
import type { ApproverInfo, AuditEntryInfo, IncidentInfo } from '../src/protocol.js';
import { cli, rawExchange, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig, type CliResult, type RunningDaemon } from './helpers/daemon.js';
import { recordings, sha256File } from './helpers/footage.js';
import { SmtpSink } from './helpers/smtpSink.js';
import { cliAs, createUser, rawAs } from './helpers/users.js';

// Policy §3 and §5 from outside: a real daemon recording an H.264 and an H.265 camera,
// approvers enrolled with the CLI (passphrases on standard input, as a script gives them),
// one approver's key made with openssl on "their own computer", bundles checked with
// libcam verify, sha256sum, the exact openssl commands of VERIFY.txt and real Chromium.
const dir = shortDir(t);
chmodSync(dir, 0o755); // the assistant's own OS account reaches the socket through it
const relay = new SmtpSink();
let daemon: RunningDaemon;
let incident: IncidentInfo;
const iso = (ms: number): string => new Date(ms).toISOString();

const pass = {
  director: 'lantern walrus cobalt meadow 1947',
  president: 'quilted orchard saxophone drizzle',
  assistant: 'marble pelican turnip vesper yonder',
};
const keyIds: Record<string, string> = {};
const ownKey = join(dir, 'okafor.key');
const ownPub = join(dir, 'okafor.pub');

const run = (args: string[], input?: string): CliResult => cli(args, { socket: daemon.socket, ...(input === undefined ? {} : { input }) });
const json = <T>(args: string[]): T => {
  const r = run([...args, '--json']);
  if (r.status !== 0) throw new Error(`libcam ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
const audit = (action: string): AuditEntryInfo[] => json<AuditEntryInfo[]>(['audit', 'list', '--action', action]);
const lines = (...l: string[]): string => `${l.join('\n')}\n`;
const sh = (command: string, cwd: string): CliResult => {
  const r = spawnSync('sh', ['-c', command], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const bundlePath = (name: string): string => join(dir, name);
const exportArgs = (a: string, b: string, extra: string[] = []): string[] => [
  'export',
  '--incident',
  incident.id,
  '--approver',
  a,
  '--approver',
  b,
  '--legal-basis',
  'court-order',
  '--reference',
  'CR-2026-0412',
  ...extra,
];

/** The commands VERIFY.txt gives an officer who has only openssl and sha256sum. */
function verifyTxtCommands(bundle: string): { verify: string[]; fingerprints: { command: string; expected: string }[] } {
  const text = readFileSync(join(bundle, 'VERIFY.txt'), 'utf8');
  const verify = [...text.matchAll(/^\s+(openssl pkeyutl -verify .+)$/gm)].map((m) => (m[1] ?? '').trim());
  const fingerprints = [...text.matchAll(/^\s+(openssl pkey -pubin .+ \| sha256sum)\s+\(.*: ([0-9a-f]{64})\)$/gm)].map((m) => ({ command: m[1] ?? '', expected: m[2] ?? '' }));
  return { verify, fingerprints };
}

/** `libcam verify --json` of a folder, with its exit status. */
function verifyBundle(bundle: string, extra: string[] = []): { status: number | null; valid: boolean; problems: string[]; approvers: { role: string; keyId: string; ok: boolean; approvedAt: string | null }[] } {
  const r = cli(['verify', bundle, '--json', ...extra]); // no socket: offline
  return { status: r.status, ...(JSON.parse(r.stdout) as { valid: boolean; problems: string[]; approvers: { role: string; keyId: string; ok: boolean; approvedAt: string | null }[] }) };
}

t.before(async () => {
  await relay.start();
  const configFile = writeConfig(dir, {
    cameras: [
      { name: 'east', source: { kind: 'test-pattern', width: 320, height: 240, fps: 10, pattern: 'ball' } },
      { name: 'hevc', source: { kind: 'test-pattern', width: 320, height: 240, fps: 10, codec: 'h265' } },
    ],
    // A notice the loaded machine failed to hand over is tried again within seconds, not the default 30 s.
    notify: { director: { email: 'director@library.example' }, smtp: { host: '127.0.0.1', port: relay.port, from: 'libcam@library.example' }, retry: { first: '1s', max: '5s' } },
  });
  daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  await waitUntil('both cameras have 8 s of footage', () => ['east', 'hevc'].every((c) => recordings(daemon.socket, c).segments.length >= 5), 60_000);
  const r = run(['isolate', '--json', '--camera', 'east', '--camera', 'hevc', '--from', iso(Date.now() - 8000), '--to', iso(Date.now() - 2000), '--purpose', 'crime-investigation', '--requested-by', 'J. Rivera, Director']);
  if (r.status !== 0) throw new Error(`isolate: ${r.stderr}`);
  incident = (JSON.parse(r.stdout) as { incident: IncidentInfo }).incident;
  const gen = spawnSync('sh', ['-c', `openssl genpkey -algorithm ed25519 -out ${ownKey} && openssl pkey -in ${ownKey} -pubout -out ${ownPub}`], { encoding: 'utf8' });
  if (gen.status !== 0) throw new Error(`openssl genpkey: ${gen.stderr}`);
});
t.teardown(async () => {
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
  await relay.stop();
});

t.test('approvers: the first ones of a box enrol freely, every later change needs an allowed pair', async (t) => {
  const weak = run(['approvers', 'enroll', '--role', 'director', '--name', 'J. Rivera'], lines('library2026', 'library2026'));
  t.equal(weak.status, 2, 'a weak passphrase is refused');
  t.match(weak.stderr, /passphrase too weak \(strength \d of 4/, 'saying why, by its estimated strength');
  const typo = run(['approvers', 'enroll', '--role', 'director', '--name', 'J. Rivera'], lines(pass.director, `${pass.director}x`));
  t.equal(typo.status, 2, 'two different passphrases are refused');
  t.same(json<ApproverInfo[]>(['approvers', 'list']), [], 'and neither enrolled anyone');

  for (const role of ['director', 'president'] as const) {
    const r = run(['approvers', 'enroll', '--role', role, '--name', role === 'director' ? 'J. Rivera' : 'A. Chen', '--json'], lines(pass[role], pass[role]));
    t.equal(r.status, 0, `${role} enrolled with a key sealed here: ${r.stderr}`);
    const info = JSON.parse(r.stdout) as ApproverInfo;
    t.match(info, { role, custody: 'box', approvedBy: [] }, 'the first approvers of the box, approved by nobody');
    keyIds[role] = info.keyId;
  }
  t.notOk(readdirSync(join(dir, 'index')).some((f) => readFileSync(join(dir, 'index', f)).includes(pass.director)), 'no passphrase is stored in the index');
  t.notOk(daemon.stdout().includes(pass.director) || daemon.stderr().includes(pass.director), 'nor logged');

  const alone = run(['approvers', 'enroll', '--role', 'assistant', '--name', 'M. Ortiz'], lines(pass.assistant, pass.assistant));
  t.equal(alone.status, 2, 'now that director and president form a pair, an enrolment without approvals is refused');
  t.match(alone.stderr, 'two of them must approve');
  t.match(audit('approver.refused').at(-1), { subject: 'assistant', details: { step: 'enroll', name: 'M. Ortiz' } }, 'the refused enrolment is audited');

  const withPair = run(['approvers', 'enroll', '--role', 'assistant', '--name', 'M. Ortiz', '--approver', 'director', '--approver', 'president', '--json'], lines(pass.assistant, pass.assistant, pass.director, pass.president));
  t.equal(withPair.status, 0, `with the director's and the president's passphrases it is enrolled: ${withPair.stderr}`);
  const assistant = JSON.parse(withPair.stdout) as ApproverInfo;
  t.same(assistant.approvedBy.map((a) => a.role), ['director', 'president'], 'approved by the two, on record');
  keyIds['assistant'] = assistant.keyId;

  const own = run(['approvers', 'enroll', '--role', 'president', '--name', 'B. Okafor', '--public-key', ownPub, '--approver', 'director', '--approver', `president=${keyIds['president'] ?? ''}`, '--json'], lines(pass.director, pass.president));
  t.equal(own.status, 0, `a president's key made with openssl elsewhere is enrolled: ${own.stderr}`);
  const okafor = JSON.parse(own.stdout) as ApproverInfo;
  t.equal(okafor.custody, 'own');
  const fp = spawnSync('sh', ['-c', `openssl pkey -pubin -in ${ownPub} -outform DER | sha256sum`], { encoding: 'utf8' }).stdout.split(' ')[0];
  t.equal(okafor.keyId, `SHA256:${fp}`, 'its key id is the SHA-256 of the public key, as openssl and sha256sum compute it');
  keyIds['okafor'] = okafor.keyId;

  t.same(audit('approver.enroll').map((e) => e.details['role']), ['director', 'president', 'assistant', 'president'], 'every enrolment is audited');
  await waitUntil('the Director is told of each enrolment', () => relay.received.filter((m) => m.subject.includes('approver enrolled')).length >= 4);
  const mail = relay.received.find((m) => m.subject.includes('B. Okafor'));
  t.match(mail?.text, (keyIds['okafor'] ?? '').slice('SHA256:'.length), 'with the key fingerprint the board keeps on paper');
});

t.test('at the terminal: director and president release the incident; the officer checks it with openssl and sha256sum', async (t) => {
  const bundle = bundlePath('b-terminal');
  const r = run([...exportArgs('director', `president=${keyIds['president'] ?? ''}`), '--to', bundle], lines(pass.director, pass.president));
  t.equal(r.status, 0, `exported: ${r.stderr}`);
  t.match(r.stdout, `Bundle written to ${bundle} and verified there`);

  const verdict = cli(['verify', bundle]);
  t.equal(verdict.status, 0, 'libcam verify, offline: valid');
  t.match(verdict.stdout, /^VALID/);
  t.match(verdict.stdout, 'Whether those are the library’s keys only\nthe board’s paper tells', 'and says that only the board’s fingerprints tell whose keys signed it');
  t.same(verifyBundle(bundle).approvers.map((a) => [a.role, a.keyId, a.ok]), [
    ['director', keyIds['director'], true],
    ['president', keyIds['president'], true],
  ]);

  const sums = sh('sha256sum -c SHA256SUMS', bundle);
  t.equal(sums.status, 0, `sha256sum -c SHA256SUMS passes: ${sums.stderr}`);
  const { verify, fingerprints } = verifyTxtCommands(bundle);
  t.equal(verify.length, 4, 'VERIFY.txt gives four openssl signature checks (two approvers, the appliance, approvals.json)');
  for (const command of verify) {
    const out = sh(command, bundle);
    t.equal(out.stdout.trim(), 'Signature Verified Successfully', `${command}: ${out.stderr}`);
  }
  t.equal(fingerprints.length, 3);
  for (const f of fingerprints) t.equal(sh(f.command, bundle).stdout.split(' ')[0], f.expected, `${f.command} prints the fingerprint VERIFY.txt names`);
  t.ok(fingerprints.some((f) => `SHA256:${f.expected}` === keyIds['director']), "the director's fingerprint is the one enrolled");

  const segments = readdirSync(join(bundle, 'segments', 'east'));
  const stored = new Map(recordings(daemon.socket, 'east').segments.map((s) => [basename(s.file), s.file]));
  t.ok(segments.length >= 3, `${segments.length} segments of east`);
  for (const s of segments) t.equal(sha256File(join(bundle, 'segments', 'east', s)), sha256File(join(dir, 'store', stored.get(s) ?? 'missing')), `${s}: byte for byte as recorded`);
  t.ok(existsSync(join(bundle, 'clips', 'east.mp4')) && existsSync(join(bundle, 'clips', 'hevc.mp4')), 'both clips');
  t.match(readFileSync(join(bundle, 'receipt.html'), 'utf8'), /CR-2026-0412[\s\S]*Receiving officer/, 'a receipt to sign, with the reference');

  const rec = audit('export').at(-1);
  t.match(rec, { subject: incident.id, details: { legalBasis: { basis: 'court-order', reference: 'CR-2026-0412' } } }, 'the export is audited with its legal basis');
  t.same(audit('export.approve').map((e) => e.details['role']), ['director', 'president'], 'both approvals are audited');

  // The clip came as a descriptor libcamd passed (SCM_RIGHTS): read-only, that file's bytes.
  const request = /Export (EXP-\d{8}-\d{3})/.exec(r.stderr)?.[1] ?? '';
  const py = [
    'import fcntl, json, os, socket, sys',
    's = socket.socket(socket.AF_UNIX)',
    's.connect(sys.argv[1])',
    's.sendall(json.dumps({"id": 1, "method": "export.fetch", "params": {"request": sys.argv[2], "path": "clips/east.mp4", "descriptor": True}}).encode() + b"\\n")',
    'msg, fds, _, _ = socket.recv_fds(s, 65536, 4)',
    'fd = fds[0]',
    'try:',
    '    os.write(fd, b"x"); writable = True',
    'except OSError:',
    '    writable = False',
    'print(json.dumps({"line": json.loads(msg.decode().split("\\n")[0]), "fds": len(fds), "mode": fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE, "writable": writable, "head": os.pread(fd, 64, 0).hex()}))',
  ].join('\n');
  const got = spawnSync('/usr/bin/python3', ['-c', py, daemon.socket, request], { encoding: 'utf8' });
  t.equal(got.status, 0, `a client asking for a descriptor gets one: ${got.stderr}`);
  const passed = JSON.parse(got.stdout) as { line: { ok: boolean; result: { descriptor?: boolean } }; fds: number; mode: number; writable: boolean; head: string };
  t.match(passed, { line: { ok: true, result: { descriptor: true } }, fds: 1, mode: 0, writable: false }, 'one descriptor, opened read-only (O_RDONLY), that cannot write');
  t.equal(passed.head, readFileSync(join(bundle, 'clips', 'east.mp4')).subarray(0, 64).toString('hex'), "it reads the clip's bytes");

  // Writing the bundle again leaves libcamd with no descriptor more than before.
  const fds = (): number => readdirSync(`/proc/${daemon.proc.pid ?? 0}/fd`).length;
  const before = fds();
  for (const n of [1, 2, 3]) t.equal(run(['export', '--complete', request, '--to', bundlePath(`b-again-${n}`)]).status, 0, `written again (${n})`);
  t.ok(fds() - before < 10, `libcamd's open descriptors: ${before} before three more bundles, ${fds()} after`);
  await waitUntil('the Director is told of the release', () => relay.received.some((m) => m.subject.includes(`incident ${incident.id} released`)));
  const mail = relay.received.find((m) => m.subject.includes(`incident ${incident.id} released`));
  for (const text of ['court-order', 'CR-2026-0412', 'J. Rivera', 'A. Chen']) t.match(mail?.text, text, `the notice names ${text}`);
});

let remoteBundle = '';
t.test('remotely: the assistant approves in their own session, the other president with openssl on their computer', async (t) => {
  const assistantAccount = createUser(t, ['libcam-staff']);
  const requestFile = join(dir, 'req.manifest.json');
  const asked = run([
    ...exportArgs('assistant', `president=${keyIds['okafor'] ?? ''}`).map((a) => (a === 'court-order' ? 'emergency' : a)),
    '--officer',
    'D. Moss',
    '--badge',
    '4471',
    '--agency',
    'Springfield PD',
    '--request',
    '--out',
    requestFile,
    '--json',
  ]);
  t.equal(asked.status, 0, `requested: ${asked.stderr}`);
  const req = JSON.parse(asked.stdout) as { request: string; manifestSha256: string };
  t.equal(sha256File(requestFile), req.manifestSha256, 'the request file is the manifest whose digest was printed');
  t.equal(run(['export', '--complete', req.request, '--to', bundlePath('b-early')]).status, 1, 'nothing is written before both approvals');
  t.notOk(existsSync(join(bundlePath('b-early'), 'manifest.json')));

  const mine = cliAs(assistantAccount, ['approve', req.request, '--approver', 'assistant'], daemon.socket, { input: lines(pass.assistant) });
  t.equal(mine.status, 0, `the assistant approves from their own account: ${mine.stderr}`);
  t.match(mine.stdout, 'still waits for the president (B. Okafor)');
  t.match(audit('export.approve').at(-1), { actor: { user: assistantAccount.name }, details: { role: 'assistant' } }, 'recorded as their account');

  const sig = join(dir, 'okafor.sig');
  const signed = spawnSync('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', ownKey, '-in', requestFile, '-out', sig], { encoding: 'utf8' });
  t.equal(signed.status, 0, `signed with stock openssl: ${signed.stderr}`);
  const approved = run(['approve', req.request, '--signature', sig]);
  t.equal(approved.status, 0, `the signature approves: ${approved.stderr}`);
  t.match(approved.stdout, 'both approvals are in');

  const other = cliAs(assistantAccount, ['export', '--complete', req.request, '--to', join(dir, 'b-assistant')], daemon.socket);
  t.equal(other.status, 1, 'an account other than the one that asked cannot write the bundle');
  t.match(other.stderr, 'only that account writes its bundle');

  // Onto another kind of filesystem (tmpfs here, a FAT-formatted USB stick in the field): the
  // kernel will not copy across, so the CLI reads and writes the passed files itself.
  remoteBundle = mkdtempSync('/dev/shm/lc-bundle-');
  t.teardown(() => rmSync(remoteBundle, { recursive: true, force: true }));
  const done = run(['export', '--complete', req.request, '--to', remoteBundle]);
  t.equal(done.status, 0, `written: ${done.stderr}`);
  const v = verifyBundle(remoteBundle, ['--appliance', verifyTxtCommands(remoteBundle).fingerprints.at(-1)?.expected ?? '', '--approver-key', keyIds['assistant'] ?? '', '--approver-key', keyIds['okafor'] ?? '']);
  t.match(v, { status: 0, valid: true, problems: [] }, 'valid, with the board’s fingerprints given');
  t.same(v.approvers.map((a) => a.role), ['assistant', 'president']);
  t.ok(v.approvers.every((a) => a.approvedAt !== null), 'each approval has its time (approvals.json, signed by the appliance)');
  t.equal(sh('sha256sum -c SHA256SUMS', remoteBundle).status, 0, 'sha256sum -c passes');
  for (const command of verifyTxtCommands(remoteBundle).verify) t.equal(sh(command, remoteBundle).stdout.trim(), 'Signature Verified Successfully', command);
  t.match(readFileSync(join(remoteBundle, 'receipt.html'), 'utf8'), /D\. Moss[\s\S]*4471[\s\S]*Springfield PD/, 'the receipt names the officer');

  // The bundle's files are served only to the account that completed it.
  const stolen = rawAs(assistantAccount, daemon.socket, { id: 1, method: 'export.fetch', params: { request: req.request, path: 'manifest.json' } });
  t.match(stolen, { ok: false, error: { code: 'conflict' } }, 'another account cannot fetch the completed bundle');
  const passed = rawAs(assistantAccount, daemon.socket, { id: 2, method: 'export.fetch', params: { request: req.request, path: 'clips/east.mp4', descriptor: true } });
  t.match(passed, { ok: false, error: { code: 'conflict' } }, 'nor have a clip passed to it as a descriptor');
});

t.test('refused: a lone approver, the same role twice, director with assistant, a revoked key, a full folder, an emergency with no officer, a released incident', async (t) => {
  const to = bundlePath('b-refused');
  const refusedBefore = audit('export.refused').length;
  const one = run(['export', '--incident', incident.id, '--approver', 'director', '--legal-basis', 'court-order', '--reference', 'X', '--to', to]);
  t.equal(one.status, 2, 'one approver');
  t.match(one.stderr, 'exactly two approvers are needed');
  const twice = run([...exportArgs('director', 'director'), '--request']);
  t.equal(twice.status, 2, 'the director twice');
  t.match(twice.stderr, 'director twice: two different roles are needed');
  const noPresident = run([...exportArgs('director', 'assistant'), '--request']);
  t.equal(noPresident.status, 2, 'director with assistant');
  t.match(noPresident.stderr, 'director with assistant is not an allowed pair');
  const emergency = run([...exportArgs('director', `president=${keyIds['president'] ?? ''}`).map((a) => (a === 'court-order' ? 'emergency' : a)), '--officer', 'D. Moss', '--request']);
  t.equal(emergency.status, 2, 'an emergency without badge and agency');
  t.match(emergency.stderr, '--legal-basis emergency needs --officer NAME --badge NO --agency NAME');
  t.ok(audit('export.refused').length >= refusedBefore + 3, 'each refusal the daemon saw is audited');

  mkdirSync(to);
  writeFileSync(join(to, 'notes.txt'), 'the officer’s notes\n');
  const full = run([...exportArgs('director', `president=${keyIds['president'] ?? ''}`), '--to', to], lines(pass.director, pass.president));
  t.equal(full.status, 2, 'a folder that is not empty');
  t.match(full.stderr, 'is not empty');
  t.same(readdirSync(to), ['notes.txt'], 'and nothing in it is touched');

  // A revoked key approves nothing: revoking is dual-controlled too.
  const revoke = run(['approvers', 'revoke', keyIds['okafor'] ?? '', '--approver', 'director', '--approver', `president=${keyIds['president'] ?? ''}`], lines(pass.director, pass.president));
  t.equal(revoke.status, 0, `revoked with the director and the president: ${revoke.stderr}`);
  const revoked = run([...exportArgs('assistant', `president=${keyIds['okafor'] ?? ''}`), '--request']);
  t.equal(revoked.status, 2, 'an export naming the revoked key');
  t.match(revoked.stderr, /the key SHA256:[0-9a-f]+ was revoked/);
  const lastPresident = run(['approvers', 'revoke', keyIds['president'] ?? '', '--approver', 'director', '--approver', `president=${keyIds['president'] ?? ''}`], lines(pass.director, pass.president));
  t.equal(lastPresident.status, 1, 'revoking the last president is refused: no allowed pair would be left');
  t.match(lastPresident.stderr, 'enrol the successor first');
  t.equal(json<ApproverInfo[]>(['approvers', 'list']).find((a) => a.keyId === keyIds['president'])?.revoked, null, 'and the president stays');
  await waitUntil('the Director is told of the revocation', () => relay.received.some((m) => m.subject.includes('revoked') && m.text.includes((keyIds['okafor'] ?? '').slice(7))));

  // A request asked for, then the incident released before it is written.
  const second = json<{ incident: IncidentInfo }>(['isolate', '--camera', 'east', '--from', iso(Date.now() - 6000), '--to', iso(Date.now() - 2000), '--purpose', 'crime-investigation', '--requested-by', 'J. Rivera, Director']).incident;
  const pending = json<{ request: string }>([...exportArgs('director', `president=${keyIds['president'] ?? ''}`).map((a) => (a === incident.id ? second.id : a)), '--request', '--out', join(dir, 'second.json')]);
  t.equal(run(['approve', pending.request, '--approver', 'director'], lines(pass.director)).status, 0);
  t.equal(run(['approve', pending.request, '--approver', 'president'], lines(pass.president)).status, 0, 'both approve');
  t.equal(run(['export', '--complete', pending.request, '--to', bundlePath('b-before-release')]).status, 0, 'and its bundle is written once');
  t.equal(run(['incidents', 'release', second.id, '--requested-by', 'J. Rivera, Director', '--note', 'closed without charges']).status, 0, 'then the incident is released');
  const late = run(['export', '--complete', pending.request, '--to', bundlePath('b-late')]);
  t.equal(late.status, 1, 'the export of a released incident is refused');
  t.match(late.stderr, 'was released since');
  const fetched = JSON.parse(await rawExchange(daemon.socket, `${JSON.stringify({ id: 7, method: 'export.fetch', params: { request: pending.request, path: 'clips/east.mp4' } })}\n`, 5000, 1)) as { ok: boolean; error?: { message: string } };
  t.match(fetched, { ok: false, error: { message: /was released since/ } }, 'nor are its files served within the hour it was completed');
  const anew = run([...exportArgs('director', `president=${keyIds['president'] ?? ''}`).map((a) => (a === incident.id ? second.id : a)), '--request']);
  t.equal(anew.status, 2, 'and so is a new request for it');
  t.match(anew.stderr, 'was released');
  t.match(audit('export.refused').at(-1), { subject: second.id, details: { step: 'request' } });
});

t.test('tampering: every change is found by libcam verify, naming the file, and by sha256sum or openssl where they can see it', async (t) => {
  const original = bundlePath('b-terminal');
  const copy = (name: string): string => {
    const to = bundlePath(`tamper-${name}`);
    cpSync(original, to, { recursive: true });
    return to;
  };
  const flipByte = (file: string, at: number): void => {
    const data = readFileSync(file);
    const i = Math.min(at, data.length - 1);
    data[i] = (data[i] ?? 0) ^ 0x01;
    writeFileSync(file, data);
  };
  const invalid = (bundle: string, what: RegExp, extra: string[] = []): void => {
    const v = verifyBundle(bundle, extra);
    t.equal(v.status, 4, `${basename(bundle)}: exit 4`);
    t.notOk(v.valid);
    t.ok(
      v.problems.some((p) => what.test(p)),
      `${basename(bundle)}: a problem names it (${v.problems.join('; ')})`,
    );
  };
  const officerChecks = (bundle: string): { sums: boolean; signatures: boolean[] } => ({
    sums: sh('sha256sum -c --quiet SHA256SUMS', bundle).status === 0,
    signatures: verifyTxtCommands(bundle).verify.map((c) => sh(c, bundle).stdout.trim() === 'Signature Verified Successfully'),
  });

  const clip = copy('clip');
  flipByte(join(clip, 'clips', 'east.mp4'), 5000);
  invalid(clip, /^clips\/east\.mp4 does not match its SHA-256/);
  t.notOk(officerChecks(clip).sums, 'sha256sum -c fails on the clip');

  const manifest = copy('manifest');
  const text = readFileSync(join(manifest, 'manifest.json'), 'utf8');
  writeFileSync(join(manifest, 'manifest.json'), text.replace('CR-2026-0412', 'CR-2026-0413'));
  invalid(manifest, /^signatures\/director\.sig: the director \(J\. Rivera\)'s signature does not verify over manifest\.json/);
  t.same(officerChecks(manifest).signatures.slice(0, 3), [false, false, false], 'no openssl signature check passes on the changed manifest');

  const signature = copy('signature');
  flipByte(join(signature, 'signatures', 'president.sig'), 10);
  invalid(signature, /^signatures\/president\.sig: the president \(A\. Chen\)'s signature does not verify/);
  t.same(officerChecks(signature).signatures.slice(0, 3), [true, false, true], 'openssl fails on that signature alone');

  const added = copy('added');
  writeFileSync(join(added, 'clips', 'extra.mp4'), 'not footage');
  invalid(added, /^clips\/extra\.mp4 is not in the manifest: added/);

  const removed = copy('removed');
  const firstSegment = readdirSync(join(removed, 'segments', 'east'))[0] ?? '';
  rmSync(join(removed, 'segments', 'east', firstSegment));
  invalid(removed, new RegExp(`^segments/east/${firstSegment.replace(/\./g, '\\.')} is missing`));
  t.notOk(officerChecks(removed).sums, 'sha256sum -c fails on the missing file');

  const linked = copy('link');
  const outside = join(dir, 'outside-east.mp4');
  cpSync(join(linked, 'clips', 'east.mp4'), outside);
  rmSync(join(linked, 'clips', 'east.mp4'));
  symlinkSync(outside, join(linked, 'clips', 'east.mp4'));
  invalid(linked, /^clips\/east\.mp4 is a symbolic link: a bundle holds only its own files/);

  // Someone swaps in a key of their own and signs the manifest with it, and rewrites SHA256SUMS.
  const swapped = copy('key');
  const other = join(dir, 'mallory.key');
  t.equal(spawnSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', other]).status, 0);
  t.equal(spawnSync('openssl', ['pkey', '-in', other, '-pubout', '-out', join(swapped, 'keys', 'president.pem')]).status, 0);
  t.equal(spawnSync('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', other, '-in', join(swapped, 'manifest.json'), '-out', join(swapped, 'signatures', 'president.sig')]).status, 0);
  t.equal(sh('sha256sum $(grep -v " SHA256SUMS$" SHA256SUMS | cut -c67-) > SHA256SUMS.new && mv SHA256SUMS.new SHA256SUMS', swapped).status, 0);
  invalid(swapped, /^keys\/president\.pem is not the president \(A\. Chen\)'s key: its fingerprint is SHA256:[0-9a-f]+, the manifest says/);
  const checks = officerChecks(swapped);
  t.ok(checks.sums && checks.signatures.every(Boolean), 'sha256sum and openssl alone are satisfied by the swapped key ...');
  const president = verifyTxtCommands(swapped).fingerprints.find((f) => f.command.includes('president.pem'));
  t.not(sh(president?.command ?? 'false', swapped).stdout.split(' ')[0], president?.expected, '... but its fingerprint is not the one VERIFY.txt and the receipt name');

  // A bundle made on another appliance: valid in itself, refused against the board's fingerprint.
  const foreign = 'SHA256:' + 'ab'.repeat(32);
  invalid(original, /^the bundle was made by the appliance SHA256:[0-9a-f]+, not SHA256:abab/, ['--appliance', foreign]);
  invalid(original, /the director's key SHA256:[0-9a-f]+ is none of the approver keys given/, ['--approver-key', keyIds['assistant'] ?? '']);
  t.equal(verifyBundle(original).status, 0, 'the original still verifies');
});

t.test('index.html in Chromium, offline: every clip, the H.264 one plays, the H.265 one is explained with its still', async (t) => {
  const bundle = bundlePath('b-terminal');
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(`file://${join(bundle, 'index.html')}`);
  t.match(await page.textContent('body'), incident.id, 'it names the incident');
  const videos = await page.$$eval('video', (vs) => vs.map((v) => v.getAttribute('src')));
  t.same(videos, ['clips/east.mp4'], 'the H.264 clip is a video');
  const played = await page.evaluate(async () => {
    const v = document.querySelector('video');
    if (!v) return -1;
    v.muted = true;
    await v.play();
    await new Promise((r) => setTimeout(r, 2000));
    return v.currentTime;
  });
  t.ok(played > 1, `it plays: currentTime ${played} s after 2 s`);
  const hevc = await page.$eval('img[src="stills/hevc.jpg"]', (img) => ({ width: (img as HTMLImageElement).naturalWidth, note: img.previousElementSibling?.textContent ?? '' }));
  t.ok(hevc.width > 0, 'the H.265 clip’s still is shown');
  t.match(hevc.note, 'H.265 (HEVC), which most browsers cannot play', 'and the page says why there is no video');
  t.match(await page.textContent('body'), keyIds['director']?.slice(7, 23) ?? 'none', 'the approvers’ fingerprints are on the page');
  t.same(
    requested.filter((u) => !u.startsWith(`file://${bundle}/`)),
    [],
    'nothing is fetched from outside the bundle',
  );
});

t.test('three wrong passphrases lock the approver’s key for 15 minutes, audited and told to the Director', async (t) => {
  const asked = json<{ request: string }>([...exportArgs('director', `president=${keyIds['president'] ?? ''}`), '--request', '--out', join(dir, 'locked.json')]);
  const wrong = run(['approve', asked.request, '--approver', 'director'], lines('not it', 'not it either', 'still not it'));
  t.equal(wrong.status, 2, 'the third wrong passphrase ends it');
  t.match(wrong.stderr, 'the key is locked for 15 minutes', 'and says so');
  const right = run(['approve', asked.request, '--approver', 'director'], lines(pass.director));
  t.equal(right.status, 1, 'then even the right one is refused');
  t.match(right.stderr, /locked until/);
  t.equal(audit('approver.wrong-passphrase').length, 2, 'the first two are audited');
  t.match(audit('approver.locked').at(-1), { subject: keyIds['director'], details: { role: 'director', failures: 3 } }, 'the lock-out is audited');
  const listed = json<ApproverInfo[]>(['approvers', 'list']).find((a) => a.keyId === keyIds['director']);
  t.ok(listed?.lockedUntil && Date.parse(listed.lockedUntil) - Date.now() > 14 * 60_000, `approvers list shows it locked until ${listed?.lockedUntil ?? '?'}`);
  await waitUntil('the Director is told', () => relay.received.some((m) => /locked/i.test(m.subject)));
  t.match(json<{ state: string; approvals: unknown[] }>(['export', '--show', asked.request]), { state: 'pending', approvals: [] }, 'and the request has no approval');

  // Guesses sent all at once meet the lock all the same: one try at a time per key.
  const parallel = json<{ request: string }>([...exportArgs('assistant', `president=${keyIds['president'] ?? ''}`), '--request', '--out', join(dir, 'parallel.json')]);
  const guesses = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      rawExchange(daemon.socket, `${JSON.stringify({ id: i, method: 'export.approve', params: { request: parallel.request, role: 'assistant', passphrase: `guess number ${i}` } })}\n`, 20_000, 1),
    ),
  );
  const replies = guesses.map((g) => JSON.parse(g) as { ok: boolean; error?: { message: string } });
  t.ok(replies.every((r) => !r.ok), 'six parallel guesses: none approves');
  t.equal(replies.filter((r) => r.error?.message.startsWith('wrong passphrase')).length, 3, 'three are tried');
  t.equal(replies.filter((r) => /locked until/.test(r.error?.message ?? '')).length, 3, 'the other three meet the lock');
  t.equal(audit('approver.locked').filter((e) => e.subject === keyIds['assistant']).length, 1, "the assistant's key is locked once");
});
