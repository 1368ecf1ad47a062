import { spawn } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import type { AuditEntryInfo } from '../src/protocol.js';
import { ROOT, cli, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { holes, recordings } from './helpers/footage.js';
import { cliAs, createUser, runAs, type OsUser } from './helpers/users.js';

/** One write of COUNT copies of TEXT, then what comes back in a second. */
const BURST = [
  'import socket,sys,time',
  's=socket.socket(socket.AF_UNIX)',
  's.connect(sys.argv[1])',
  's.sendall(sys.argv[2].encode().decode("unicode_escape").encode()*int(sys.argv[3]))',
  's.settimeout(1)',
  'got=b""',
  'try:',
  '  while len(got)<4096: got+=s.recv(4096) or b"x"*4096',
  'except Exception: pass',
  'print(got[:4096].decode(errors="replace"))',
].join('\n');

// Misbehaving clients, run as another account (a member of the staff group): a flood that
// never reads its replies, connections that trickle bytes, connections held open. Each time
// a well-behaved client (root, as the suite runs) must still be answered and the cameras
// must go on recording.
const cameras = ['east', 'west'].map((name) => ({ name, source: { kind: 'test-pattern', width: 160, height: 120, fps: 10 } }));

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

interface Attack {
  events: Record<string, unknown>[];
  stop: () => void;
}

function attack(t: Test, user: OsUser, args: string[]): Attack {
  // A process group of its own: runuser forks the attacker, and both must go at the end.
  const proc = spawn('runuser', ['-u', user.name, '--', '/usr/bin/python3', join(ROOT, 'test', 'fixtures', 'socket-attack.py'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const events: Record<string, unknown>[] = [];
  createInterface({ input: proc.stdout }).on('line', (l) => events.push(JSON.parse(l) as Record<string, unknown>));
  const stop = (): void => {
    try {
      process.kill(-(proc.pid ?? 0), 'SIGKILL');
    } catch {
      // already gone
    }
  };
  t.teardown(stop);
  return { events, stop };
}

async function start(t: Test): Promise<{ daemon: RunningDaemon; staff: OsUser }> {
  const dir = shortDir(t);
  chmodSync(dir, 0o755);
  const daemon = spawnDaemon(t, dir, writeConfig(dir, { cameras }));
  await waitForSocket(daemon.socket);
  await waitUntil('both cameras record', () => cameras.every((c) => recordings(daemon.socket, c.name).segments.length >= 2));
  return { daemon, staff: createUser(t, ['libcam-staff']) };
}

t.test('a client that floods requests and never reads the replies starves nobody', async (t) => {
  const { daemon, staff } = await start(t);
  const pid = daemon.proc.pid ?? 0;
  const before = rssMb(pid);
  const since = new Date().toISOString();
  const flood = attack(t, staff, ['flood', daemon.socket, '100000']);
  await waitUntil('libcamd stops reading the flood', () => flood.events.some((e) => e['event'] === 'blocked'), 30_000);
  const answered: number[] = [];
  for (let i = 0; i < 8; i++) {
    answered.push(cli(['status'], { socket: daemon.socket }).status ?? -1);
    await sleep(500);
  }
  t.same(answered, [0, 0, 0, 0, 0, 0, 0, 0], 'every status of a well-behaved client is answered during the flood');
  const growth = rssMb(pid) - before;
  t.ok(growth < 100, `libcamd's memory stays bounded (${growth.toFixed(1)} MB more; the flood would take gigabytes if its replies piled up)`);
  flood.stop();
  for (const c of cameras) {
    const r = recordings(daemon.socket, c.name, since);
    t.equal(r.gaps.length, 0, `${c.name}: no gap during the flood`);
    t.ok(Math.max(0, ...holes(r)) <= 250, `${c.name}: no hole over 250 ms`);
  }
  const steps = JSON.parse(cli(['audit', 'list', '--action', 'clock.step', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];
  t.same(steps, [], 'no false clock step');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('twenty thousand blank lines, or lines past the in-flight cap, in one write harm nothing', async (t) => {
  // Answered line by line through a function that called itself per line, such a write
  // exhausted the stack and killed libcamd (found from outside).
  const { daemon, staff } = await start(t);
  const blank = runAs(staff, '/usr/bin/python3', ['-c', BURST, daemon.socket, '\\n', '20000']);
  t.equal(blank.status, 0, blank.stderr);
  const empty = runAs(staff, '/usr/bin/python3', ['-c', BURST, daemon.socket, '{}\\n', '30000']);
  t.equal(empty.status, 0, empty.stderr);
  t.match(empty.stdout, /"code":"usage"/, 'the malformed lines are answered');
  t.equal(cli(['status'], { socket: daemon.socket }).status, 0, 'libcamd still answers');
  t.equal(daemon.proc.exitCode, null, 'and is still running');
  const since = new Date(Date.now() - 3000).toISOString();
  await sleep(4000);
  for (const c of cameras) t.ok(recordings(daemon.socket, c.name, since).segments.length >= 1, `${c.name} still records`);
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('connections that trickle bytes cannot hold the socket', async (t) => {
  const { daemon, staff } = await start(t);
  const slow = attack(t, staff, ['slow', daemon.socket, '64', '20']);
  await waitUntil('the slow connections are open', () => slow.events.some((e) => e['event'] === 'started'));
  await sleep(1000);
  t.equal(cli(['status'], { socket: daemon.socket }).status, 0, 'another account is answered while 64 slow connections try to hang on');
  await waitUntil('every slow connection has ended', () => slow.events.some((e) => e['event'] === 'done'), 30_000);
  const replies = slow.events.filter((e) => e['event'] === 'ended').map((e) => String(e['reply']));
  const busy = replies.filter((r) => /libcamd is busy: uid \d+ already has 8 connections/.test(r)).length;
  const cut = replies.filter((r) => /request line not complete 5 s after it began/.test(r)).length;
  t.equal(busy + cut, 64, `each was told why: ${busy} refused as over the per-account limit, ${cut} cut off for trickling`);
  t.equal(cut, 8, 'eight were let in, and cut off when their line did not come');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test("the CLI says libcamd is busy when an account's connections are all taken", async (t) => {
  const { daemon, staff } = await start(t);
  const held = attack(t, staff, ['burst', daemon.socket, '8']);
  await waitUntil('eight connections held', () => held.events.some((e) => e['event'] === 'holding'));
  const r = cliAs(staff, ['status'], daemon.socket);
  t.equal(r.status, 1, 'exit 1: the daemon is there, and said no');
  t.match(r.stderr, 'libcamd is busy: uid');
  t.notMatch(r.stderr, 'is libcamd running', 'not mistaken for a daemon that is down');
  t.equal(cli(['status'], { socket: daemon.socket }).status, 0, 'other accounts are served');
  held.stop();
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});
