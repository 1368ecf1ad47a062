// scripts/bench socket-flood: misbehaving clients of the control socket while two cameras
// record (issue 10): one connection sending 100,000 status lines and never reading the
// replies, then 500 connections trickling one byte every 20 s. The attacks run as another
// account (a member of libcam-staff made for the run); the well-behaved client is this one.
// Reports libcamd's RSS growth, the worst and median `status` latency of the well-behaved
// client, the largest hole in either camera's recording, and clock steps on record.
//   scripts/bench socket-flood [--seconds 30] [--lines 100000] [--slow 500]
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { libcamdArgs } from './lib/fixtures.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '30' }, lines: { type: 'string', default: '100000' }, slow: { type: 'string', default: '500' } } });
const seconds = Number(values.seconds);
const work = mkdtempSync('/tmp/lc-flood-');
chmodSync(work, 0o755);
const socket = join(work, 'libcam.sock');
const user = `lcb-${process.pid}`;
const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' });

writeFileSync(
  join(work, 'libcam.yaml'),
  JSON.stringify({
    store: { path: join(work, 'store'), segmentSeconds: 2 },
    index: { path: join(work, 'index') },
    keys: { path: join(work, 'keys') },
    socket: { path: socket, group: 'libcam-staff' },
    retention: { maxAge: '1d', minFreeBytes: '100MB' },
    cameras: ['east', 'west'].map((name) => ({ name, source: { kind: 'test-pattern', width: 640, height: 360, fps: 15 } })),
    log: { level: 'warn' },
  }),
);
run('useradd', ['--system', '--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', '--groups', 'libcam-staff', user]);
const daemon = spawn(process.execPath, libcamdArgs(join(work, 'libcam.yaml')), { stdio: 'ignore' });
const cleanup = () => {
  daemon.kill('SIGKILL');
  run('pkill', ['-KILL', '-u', user]);
  run('userdel', [user]);
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))?.[1]) / 1024;
const cli = (...args) => spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), '--socket', socket, '--json', ...args], { encoding: 'utf8' });

/** One status request as the CLI makes it (a connection per request), its latency in ms, or Infinity on failure. */
function status() {
  return new Promise((res) => {
    const t0 = performance.now();
    const s = connect(socket);
    let got = '';
    const done = (ok) => {
      s.destroy();
      res(ok ? performance.now() - t0 : Infinity);
    };
    s.setTimeout(30_000, () => done(false));
    s.on('connect', () => s.write('{"id":1,"method":"status"}\n'));
    s.on('data', (d) => {
      got += d;
      if (got.includes('\n')) done(/"ok":true/.test(got));
    });
    s.on('error', () => done(false));
  });
}

async function phase(name, args) {
  const since = new Date().toISOString();
  const before = rssMb();
  const attacker = spawn('runuser', ['-u', user, '--', '/usr/bin/python3', join(ROOT, 'test/fixtures/socket-attack.py'), ...args], { stdio: 'ignore', detached: true });
  const latencies = [];
  let peak = before;
  for (const until = Date.now() + seconds * 1000; Date.now() < until; ) {
    latencies.push(await status());
    peak = Math.max(peak, rssMb());
    await sleep(250);
  }
  try {
    process.kill(-attacker.pid, 'SIGKILL');
  } catch {}
  await sleep(1000);
  const holes = ['east', 'west'].map((camera) => {
    const r = JSON.parse(cli('recordings', '--camera', camera, '--from', since).stdout);
    let worst = 0;
    for (let i = 1; i < r.segments.length; i++) worst = Math.max(worst, Date.parse(r.segments[i].start) - Date.parse(r.segments[i - 1].end));
    return { worst, gaps: r.gaps.length, segments: r.segments.length };
  });
  latencies.sort((a, b) => a - b);
  return {
    name,
    rssGrowthMb: (peak - before).toFixed(1),
    statusP50Ms: latencies[Math.floor(latencies.length / 2)]?.toFixed(1),
    statusWorstMs: latencies.at(-1)?.toFixed(1),
    statusAnswered: `${latencies.filter(Number.isFinite).length}/${latencies.length}`,
    worstHoleMs: Math.max(...holes.map((h) => h.worst)),
    gaps: holes.reduce((n, h) => n + h.gaps, 0),
  };
}

for (let i = 0; i < 100 && run('test', ['-S', socket]).status !== 0; i++) await sleep(100);
await sleep(8000); // both cameras recording, the index warm
const baseline = await phase('nobody misbehaving', ['burst', socket, '0']);
const flood = await phase(`flood: ${values.lines} status lines, replies never read`, ['flood', socket, values.lines]);
const slow = await phase(`${values.slow} connections, one byte every 20 s`, ['slow', socket, values.slow, '20']);
const steps = JSON.parse(cli('audit', 'list', '--action', 'clock.step').stdout).length;

console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);
console.log(`command: scripts/bench socket-flood --seconds ${seconds} --lines ${values.lines} --slow ${values.slow}`);
console.log('| phase | RSS growth (MB) | status p50 (ms) | status worst (ms) | answered | worst hole (ms) | gaps |');
console.log('|---|---|---|---|---|---|---|');
for (const p of [baseline, flood, slow]) console.log(`| ${p.name} | ${p.rssGrowthMb} | ${p.statusP50Ms} | ${p.statusWorstMs} | ${p.statusAnswered} | ${p.worstHoleMs} | ${p.gaps} |`);
console.log(`clock.step entries on record: ${steps}`);
process.exit(0);
