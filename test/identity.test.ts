import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { AuditEntryInfo } from '../src/protocol.js';
import { cli, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig } from './helpers/daemon.js';
import { recordings } from './helpers/footage.js';
import { cliAs, createUser, rawAs, runAs } from './helpers/users.js';

// Attacks made as other OS accounts, created for the test: a member of the staff group who
// claims to be someone else, who tries to read the archive behind the daemon's back, and
// an account outside the staff group.
const dir = shortDir(t);
chmodSync(dir, 0o755); // only libcamd's own modes may keep the others out, not the test's temp folder
const cred = join(dir, 'annex.cred');
writeFileSync(cred, 'admin:hunter2\n', { mode: 0o600 });
const configFile = writeConfig(dir, {
  cameras: [
    { name: 'lobby', source: { kind: 'test-pattern', width: 160, height: 120, fps: 10 } },
    { name: 'annex', source: { kind: 'rtsp', url: 'rtsp://127.0.0.1:9/none', credentialsFile: cred } },
  ],
});
const daemon = spawnDaemon(t, dir, configFile);
const staff = createUser(t, ['libcam-staff']);
const outsider = createUser(t);
const audit = (): AuditEntryInfo[] => JSON.parse(cli(['audit', 'list', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];

t.before(async () => {
  await waitForSocket(daemon.socket);
  await waitUntil('lobby records', () => recordings(daemon.socket, 'lobby').segments.length >= 2);
});

t.test('who is asking comes from the kernel, not from the request', async (t) => {
  const out = join(dir, 'out');
  mkdirSync(out);
  chownSync(out, staff.uid, staff.gid);
  const still = cliAs(staff, ['still', '--camera', 'lobby', '--at', '-3s', '--purpose', 'security-risk', '--requested-by', 'Robin Circulation', '--out', join(out, 's.jpg')], daemon.socket);
  t.equal(still.status, 0, `a staff member takes a still with the CLI: ${still.stderr}`);
  t.match(audit().find((e) => e.action === 'footage.still'), { actor: { user: staff.name, uid: staff.uid, requestedBy: 'Robin Circulation' } }, 'recorded as that account, beside who asked');

  const forged = rawAs(staff, daemon.socket, {
    id: 1,
    method: 'pause',
    params: { camera: 'lobby', reason: 'privacy', for: '1m' },
    actor: { user: 'director', uid: 0 },
  });
  t.match(forged, { id: 1, ok: true }, 'a raw client claiming to be the director (uid 0) is answered ...');
  const silent = rawAs(staff, daemon.socket, { id: 2, method: 'resume', params: { camera: 'lobby' } });
  t.match(silent, { id: 2, ok: true }, '... and one that says nothing about itself');
  const entries = audit();
  t.match(entries.find((e) => e.action === 'pause'), { actor: { user: staff.name, uid: staff.uid } }, 'the pause is recorded as the account that asked, not as "director"');
  t.match(entries.find((e) => e.action === 'resume' && e.actor.user !== 'libcamd'), { actor: { user: staff.name, uid: staff.uid } }, 'the resume too');
  t.notOk(entries.some((e) => e.actor.user === 'director' || (e.actor.uid === 0 && e.actor.user !== 'root')), 'no entry names the claimed identity');
});

t.test('staff may use the socket, not read the archive behind it', async (t) => {
  t.equal(cliAs(staff, ['status'], daemon.socket).status, 0, 'libcam status as staff');
  const segment = recordings(daemon.socket, 'lobby').segments[0]?.file ?? '';
  for (const [what, path] of [
    ['a segment file', join(dir, 'store', segment)],
    ['the store folder', join(dir, 'store')],
    ["the index's files", join(dir, 'index', 'CURRENT')],
    ['a camera credentials file', cred],
    ['the store lock', join(dir, 'store', '.libcamd.lock')],
  ] as const) {
    const r = runAs(staff, '/bin/cat', [path]);
    t.not(r.status, 0, `cat ${what} as staff fails`);
    t.match(r.stderr, /Permission denied/, `${what}: permission denied`);
  }
  const outside = cliAs(outsider, ['status'], daemon.socket);
  t.equal(outside.status, 3, 'an account outside the staff group cannot reach libcamd');
  t.match(outside.stderr, "permission denied: is your account in the socket's group");
});

t.test('libcamd stops using a credentials file that becomes readable by others', async (t) => {
  chmodSync(cred, 0o644);
  // The camera retries: the next read refuses the file (checked on every read, not only at start).
  await waitUntil('annex names the exposed file', () => {
    const annex = (JSON.parse(cli(['status', '--json'], { socket: daemon.socket }).stdout) as { cameras: { name: string; reason: string | null }[] }).cameras.find(
      (c) => c.name === 'annex',
    );
    return /readable by others \(mode 644\)/.test(annex?.reason ?? '');
  }, 60_000);
  t.pass('the camera shows why');
  chmodSync(cred, 0o600);

  // Mode 0600, but an access control list lets one staff member read it (found from outside).
  t.equal(spawnSync('setfacl', ['-m', `u:${staff.name}:r`, cred]).status, 0);
  t.equal(runAs(staff, '/bin/cat', [cred]).status, 0, 'the ACL does let that account read the file');
  await waitUntil('annex names the access control list', () => {
    const annex = (JSON.parse(cli(['status', '--json'], { socket: daemon.socket }).stdout) as { cameras: { name: string; reason: string | null }[] }).cameras.find(
      (c) => c.name === 'annex',
    );
    return /has an access control list/.test(annex?.reason ?? '');
  }, 60_000);
  t.pass('libcamd refuses it on the next read');
  const check = cli(['config', 'check', configFile]);
  t.match(check.stdout, /warning: .*has an access control list/, 'and libcam config check warns');
  spawnSync('setfacl', ['-b', cred]);
});

t.test('libcam config check judges a credentials file as libcamd (user libcam) would', async (t) => {
  const libcamGid = Number(execFileSync('getent', ['group', 'libcam'], { encoding: 'utf8' }).split(':')[2]);
  const file = join(dir, 'check.cred');
  writeFileSync(file, 'admin:pw\n', { mode: 0o640 });
  chownSync(file, 0, libcamGid);
  const yaml = join(dir, 'check.yaml');
  writeFileSync(yaml, `cameras:\n  - name: a\n    source: { kind: rtsp, url: "rtsp://10.0.0.9/s", credentialsFile: ${file} }\n`);
  t.notMatch(cli(['config', 'check', yaml]).stdout, 'warning', 'root:libcam 0640, as the README says: no warning');
  chownSync(file, 0, 0);
  t.match(cli(['config', 'check', yaml]).stdout, /warning: .*readable by group 0/, 'root:root 0640: libcamd could not read it, and would refuse it');
});

t.teardown(async () => {
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});
