// scripts/bench reconnects: libcamd's memory across camera reconnects. One RTSP camera
// (gst-rtsp-server) is stopped and started again N times; after each reconnect, and once
// libcamd records again, its RSS is sampled. Every reconnect builds a new pipeline, so a
// pipeline that is never freed shows as RSS growing with the count. Prints Markdown.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { libcamdArgs } from './lib/fixtures.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { cycles: { type: 'string', default: '40' }, stills: { type: 'string', default: '0' } } });
const CYCLES = Number(values.cycles);
const work = mkdtempSync('/tmp/lc-bench-');
const socket = join(work, 'libcam.sock');

const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const cli = (...args) => spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), '--socket', socket, '--json', ...args], { encoding: 'utf8' });

async function camera(port) {
  const proc = spawn('/usr/bin/python3', [join(ROOT, 'test/fixtures/rtsp-camera.py'), '--port', String(port), '--width', '1280', '--height', '720', '--fps', '15'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise((res) => createInterface({ input: proc.stdout }).once('line', res));
  return { proc, ...JSON.parse(line) };
}

async function until(what, fn, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return;
    await sleep(250);
  }
  throw new Error(`timed out: ${what}`);
}
const state = () => JSON.parse(cli('status').stdout || '{}').cameras?.[0]?.state;

let cam = await camera(0);
writeFileSync(
  join(work, 'libcam.yaml'),
  JSON.stringify({
    store: { path: join(work, 'store'), segmentSeconds: 10 },
    index: { path: join(work, 'index') },
    keys: { path: join(work, 'keys') },
    socket: { path: socket, group: 'libcam-staff' },
    retention: { maxAge: '1d', minFreeBytes: '1GB' },
    cameras: [{ name: 'cam', source: { kind: 'rtsp', url: cam.url } }],
    log: { level: 'warn' },
  }),
);
const daemon = spawn(process.execPath, libcamdArgs(join(work, 'libcam.yaml')), { stdio: 'ignore' });
try {
  await until('recording', () => state() === 'recording');
  await sleep(5000);
  const samples = [{ cycle: 0, rss: rssOf(daemon.pid) }];
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    cam.proc.kill('SIGTERM');
    await new Promise((r) => cam.proc.once('exit', r));
    await until('camera lost', () => state() !== 'recording');
    cam = await camera(cam.port);
    await until('recording again', () => state() === 'recording');
    await sleep(1000);
    samples.push({ cycle, rss: rssOf(daemon.pid) });
    process.stderr.write(`cycle ${cycle}: ${samples.at(-1).rss.toFixed(1)} MB\n`);
  }
  const first = samples[Math.min(5, samples.length - 1)];
  const last = samples.at(-1);
  const perCycle = (last.rss - first.rss) / Math.max(1, last.cycle - first.cycle);
  console.log(`### Memory across reconnects (\`scripts/bench reconnects --cycles ${CYCLES}\`)\n`);
  console.log(`${cpus().length} × ${cpus()[0]?.model}, Linux ${release()}, Node ${process.version}; one 1280x720 15 fps H.264 RTSP camera stopped and started ${CYCLES} times.\n`);
  console.log('| after reconnect | libcamd RSS |\n|---|---|');
  for (const s of samples.filter((s, i) => i % Math.max(1, Math.floor(CYCLES / 8)) === 0 || s === last)) console.log(`| ${s.cycle} | ${s.rss.toFixed(1)} MB |`);
  console.log(`\nGrowth from reconnect ${first.cycle} to ${last.cycle}: ${perCycle.toFixed(2)} MB per reconnect.`);
} finally {
  daemon.kill('SIGTERM');
  cam.proc.kill('SIGTERM');
  await new Promise((r) => daemon.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
