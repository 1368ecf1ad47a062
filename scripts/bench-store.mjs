// scripts/bench store: the rolling store at scale, with the real index and store code.
//   prune:   delete one camera-day of 10 s segments (8,640 files) with `libcam prune`
//            while another camera records, against `rm -r` of the same files;
//   query:   1-hour range queries in an index of 30 days x 16 cameras x 10 s (4.1 M);
//   startup: libcamd start-up with N files in the store, against `find STORE -type f | wc -l`,
//            and `libcam fsck` (which does walk every file) against the same.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { IndexDb } from '../dist/store/indexDb.js';
import { segmentEncoding } from '../dist/store/segmentCodec.js';
import { SegmentStore, segKey } from '../dist/store/segments.js';
import { DAEMON_NODE_FLAGS } from '../dist/daemon/nodeFlags.js';
import { benchNodeArgs, libcamdArgs } from './lib/fixtures.mjs';

const ROOT = resolve(import.meta.dirname, '..');
// The query part runs the index code in this process: run it under libcamd's own V8 flags,
// then LIBCAM_BENCH_NODE_ARGS (later flags win: --max-semi-space-size=16 measures Node's default).
if (process.env.LIBCAM_BENCH_STORE_CHILD !== '1') {
  const child = spawn(process.execPath, [...process.execArgv, ...DAEMON_NODE_FLAGS, ...benchNodeArgs(), import.meta.filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, LIBCAM_BENCH_STORE_CHILD: '1' },
  });
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  const [code, signal] = await new Promise((resolve) => {
    child.once('error', (err) => {
      console.error(`bench store: could not start node: ${err.message}`);
      resolve([1, null]);
    });
    child.once('exit', (c, s) => resolve([c, s]));
  });
  if (signal) {
    for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(name, forward);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
}
const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    files: { type: 'string', default: '1000000' },
    days: { type: 'string', default: '30' },
    cameras: { type: 'string', default: '16' },
  },
});
const DAY = 86_400_000;
const SEG = 10_000;
const work = mkdtempSync('/var/tmp/libcam-bench-store-');
const log = pino({ level: 'silent' });
const results = [];

function dayPath(store, camera, start) {
  const d = new Date(start);
  const two = (n) => String(n).padStart(2, '0');
  return join(store, camera, String(d.getUTCFullYear()), two(d.getUTCMonth() + 1), two(d.getUTCDate()));
}

/** Files and index entries written directly (no fsync): seeding, not what is measured. */
async function seed(dir, cameras, from, count, { files = true, bytes = 64 } = {}) {
  const index = new IndexDb(join(dir, 'index'));
  await index.start();
  const seg = index.db.sublevel('seg', { valueEncoding: segmentEncoding });
  const head = index.db.sublevel('head', { valueEncoding: 'json' });
  const store = join(dir, 'store');
  const payload = Buffer.alloc(bytes, 7);
  for (const camera of cameras) {
    let ops = [];
    let lastDir = '';
    for (let i = 0; i < count; i++) {
      const start = from + i * SEG;
      const folder = dayPath(store, camera, start);
      const file = join(folder, `${start}.mp4`);
      if (files) {
        if (folder !== lastDir) mkdirSync(folder, { recursive: true });
        lastDir = folder;
        writeFileSync(file, payload);
      }
      const sha = String(i).padStart(64, '0');
      ops.push({ type: 'put', sublevel: seg, key: segKey(camera, start), value: { camera, start, end: start + SEG, bytes, sha256: sha, prev: null, file: file.slice(store.length + 1) } });
      if (ops.length === 10_000) {
        await index.db.batch(ops);
        ops = [];
      }
    }
    ops.push({ type: 'put', sublevel: head, key: camera, value: { sha256: 'x', start: from + (count - 1) * SEG, end: from + count * SEG, bytes: count * bytes, segments: count } });
    await index.db.batch(ops);
  }
  await index.stop();
}

function timeCommand(cmd) {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return { ms: performance.now() - t0, stdout: r.stdout.trim() };
}

function config(dir, extra = '', retention = '{ maxAge: 1d, minFreeBytes: 1MB }') {
  const file = join(dir, 'libcam.yaml');
  writeFileSync(file, `store: { path: ${dir}/store, segmentSeconds: 2 }\nindex: { path: ${dir}/index }\nkeys: { path: ${dir}/keys }\nsocket: { path: ${dir}/s.sock, group: libcam-staff }\nretention: ${retention}\n${extra}`);
  return file;
}

async function startDaemon(file, dir) {
  const t0 = performance.now();
  const proc = spawn(process.execPath, libcamdArgs(file), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  // Ready = the control socket answers a status request (what READY=1 also waits for).
  for (;;) {
    const ok = await new Promise((res) => {
      const s = connect(join(dir, 's.sock'));
      s.once('connect', () => s.write('{"id":1,"method":"status"}\n'));
      s.once('data', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) break;
    if (proc.exitCode !== null) throw new Error(`libcamd exited: ${output.slice(-2000)}`);
    await sleep(10);
  }
  return { proc, readyMs: performance.now() - t0 };
}

const cli = (dir, ...args) => spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), '--socket', join(dir, 's.sock'), ...args], { encoding: 'utf8' });

async function stop(proc) {
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

async function benchPrune() {
  const dir = join(work, 'prune');
  const from = Date.now() - 3 * DAY;
  await seed(dir, ['archive'], from, 8640, { bytes: 2000 });
  const file = config(dir, `cameras:\n  - { name: archive, enabled: false, source: { kind: test-pattern } }\n  - { name: live, source: { kind: test-pattern, width: 320, height: 240, fps: 10 } }\n`);
  const { proc } = await startDaemon(file, dir);
  await sleep(6000); // the live camera records a few segments first
  const t0 = performance.now();
  const r = cli(dir, 'prune', '--json');
  const pruneMs = performance.now() - t0;
  const pruned = JSON.parse(r.stdout);
  await sleep(4000);
  const rec = JSON.parse(cli(dir, 'recordings', '--camera', 'live', '--from', '-5m', '--json').stdout);
  let worstHole = 0;
  for (let i = 1; i < rec.segments.length; i++) worstHole = Math.max(worstHole, Date.parse(rec.segments[i].start) - Date.parse(rec.segments[i - 1].end));
  await stop(proc);
  // The same files again, removed by rm.
  const rmDir = join(work, 'rm');
  await seed(rmDir, ['archive'], from, 8640, { bytes: 2000 });
  spawnSync('sync');
  const rm = timeCommand(`rm -r ${rmDir}/store/archive`);
  results.push(`| prune one camera-day (8,640 files) while a camera records | libcam prune: ${(pruneMs / 1000).toFixed(2)} s (${pruned.deleted.segments} deleted) | rm -r: ${(rm.ms / 1000).toFixed(2)} s | ratio ${(pruneMs / rm.ms).toFixed(2)} (target ≤ 1.5); recording meanwhile: ${rec.gaps.length} gaps, worst hole ${worstHole} ms |`);
}

async function benchQuery() {
  const dir = join(work, 'query');
  const cameras = Array.from({ length: Number(values.cameras) }, (_, i) => `cam-${i + 1}`);
  const perCamera = (Number(values.days) * DAY) / SEG;
  const from = Date.now() - Number(values.days) * DAY;
  const t0 = performance.now();
  await seed(dir, cameras, from, perCamera, { files: false });
  const seedS = (performance.now() - t0) / 1000;
  const index = new IndexDb(join(dir, 'index'));
  await index.start();
  // A bulk load leaves LevelDB compacting for a while; a store that has rolled for a
  // month is compacted. Measure that steady state (the seed is not what is measured).
  const c0 = performance.now();
  await index.db.compactRange('\x00', '\xff');
  const compactS = (performance.now() - c0) / 1000;
  const store = new SegmentStore(index, join(dir, 'store'), log);
  // Two rounds of 2,000 random queries: the first after opening the index (LevelDB opens
  // each table file, ~360 of them, at its first read), the second once they are open, as
  // in a libcamd that has run for a while.
  const rounds = [];
  for (let round = 0; round < 2; round++) {
    const times = [];
    for (let i = 0; i < 2000; i++) {
      const camera = cameras[i % cameras.length];
      const start = from + Math.floor(Math.random() * (Number(values.days) * DAY - 3_600_000));
      const q0 = performance.now();
      const r = await store.range(camera, start, start + 3_600_000);
      times.push(performance.now() - q0);
      if (r.segments.length < 359) throw new Error(`a 1-hour query found ${r.segments.length} segments`);
    }
    times.sort((a, b) => a - b);
    const p = (q) => times[Math.floor(q * (times.length - 1))].toFixed(2);
    rounds.push(`p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms`);
  }
  await index.stop();
  results.push(`| 1-hour range query, ${(cameras.length * perCamera / 1e6).toFixed(2)} M entries (${values.days} d × ${cameras.length} cameras × 10 s; seeded in ${seedS.toFixed(0)} s, compacted in ${compactS.toFixed(0)} s) | 2,000 queries once the table files are open: ${rounds[1]} | the first 2,000 after opening: ${rounds[0]} | target p99 ≤ 2 ms |`);
}

async function benchStartup() {
  const dir = join(work, 'startup');
  const n = Number(values.files);
  const cameras = Array.from({ length: 16 }, (_, i) => `cam-${i + 1}`);
  await seed(dir, cameras, Date.now() - (n / 16) * SEG - DAY, Math.ceil(n / 16));
  const file = config(dir, `cameras:\n${cameras.map((c) => `  - { name: ${c}, enabled: false, source: { kind: test-pattern } }`).join('\n')}\n`, '{ maxAge: 3650d, minFreeBytes: 1MB }');
  spawnSync('sync');
  spawnSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
  const find = timeCommand(`find ${dir}/store -type f | wc -l`);
  spawnSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
  const { proc, readyMs } = await startDaemon(file, dir);
  const f0 = performance.now();
  const fsck = JSON.parse(cli(dir, 'fsck', '--json').stdout);
  const fsckMs = performance.now() - f0;
  await stop(proc);
  results.push(`| start-up with ${find.stdout} files in the store | libcamd ready (socket answers): ${(readyMs / 1000).toFixed(2)} s | find -type f \\| wc -l: ${(find.ms / 1000).toFixed(2)} s | ratio ${(readyMs / find.ms).toFixed(2)} (target ≤ 1.5); libcam fsck over all ${fsck.checked.files} files: ${(fsckMs / 1000).toFixed(1)} s, ${fsck.problems.length} problems |`);
}

try {
  const parts = values.part === 'all' ? ['prune', 'query', 'startup'] : values.part.split(',');
  if (parts.includes('prune')) await benchPrune();
  if (parts.includes('query')) await benchQuery();
  if (parts.includes('startup')) await benchStartup();
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}; store and index under /var/tmp`);
  console.log(`Command: scripts/bench store --part ${values.part} --files ${values.files} --days ${values.days} --cameras ${values.cameras}\n`);
  console.log('| what | libcam | baseline | result |');
  console.log('|---|---|---|---|');
  for (const line of results) console.log(line);
} finally {
  rmSync(work, { recursive: true, force: true });
}
