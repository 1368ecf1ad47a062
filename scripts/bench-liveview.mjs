// scripts/bench liveview: what watching costs. libcamd records N H.264 cameras (one
// shared RTSP stream from the simulator, 1280x720 at 15 fps, 1 s GOP); its CPU and RSS are
// measured with nobody watching, then with 1, 4 and 8 Chromium pages showing the grid.
// Then glass-to-glass latency: a camera whose picture turns white or black on the wall
// clock's 2-second boundaries, and a page that notes when each change reaches the screen
// (requestVideoFrameCallback). Prints Markdown for BENCHMARKS.md.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { libcamdArgs, selfSignedCert, startCamera } from './lib/fixtures.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    cameras: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '15' },
    browsers: { type: 'string', default: '1,4,8' },
    bitrate: { type: 'string', default: '2000' },
    latency: { type: 'string', default: '40' },
  },
});
const N = Number(values.cameras);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const BROWSERS = values.browsers.split(',').map(Number);
const TICK = 100;
const PASSWORD = 'velvet parsnip obelisk tundra';
const work = mkdtempSync('/var/tmp/libcam-bench-live-');

function procStat(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    return { cpu: (Number(fields[11]) + Number(fields[12])) / TICK, rss };
  } catch {
    return { cpu: 0, rss: 0 };
  }
}

/** CPU seconds of every Chromium process (browser, renderers, GPU process). */
function chromiumCpu() {
  const pids = spawnSync('pgrep', ['-f', '/usr/lib/chromium/chromium'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
  return pids.reduce((s, p) => s + procStat(p).cpu, 0);
}

/** CPU seconds per thread name of a process: where libcamd's time goes. */
function threads(pid) {
  const out = new Map();
  for (const task of spawnSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' }).stdout.trim().split('\n')) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '#');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / TICK);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

function freePort() {
  return 20000 + Math.floor(Math.random() * 20000);
}

async function startDaemon(name, cameras) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  selfSignedCert(dir);
  const port = freePort();
  const list = cameras.map((c) => `  - name: ${c.name}\n    source: { kind: rtsp, url: "${c.url}" }`).join('\n');
  const config = join(dir, 'libcam.yaml');
  writeFileSync(
    config,
    `store: { path: ${dir}/store, segmentSeconds: 10 }\nindex: { path: ${dir}/index }\nkeys: { path: ${dir}/keys }\nsocket: { path: ${dir}/s.sock, group: libcam-staff }\n` +
      `web: { listen: "127.0.0.1:${port}", tls: { cert: ${dir}/tls.crt, key: ${dir}/tls.key }, allow: [127.0.0.1/32] }\ncameras:\n${list}\n`,
  );
  const proc = spawn(process.execPath, libcamdArgs(config), { stdio: ['ignore', 'ignore', 'inherit'] });
  const socket = join(dir, 's.sock');
  for (let i = 0; i < 100; i++) {
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), '--socket', socket, 'staff', 'add', 'bench'], { input: `${PASSWORD}\n${PASSWORD}\n`, encoding: 'utf8' });
    if (r.status === 0) break;
    await sleep(200);
  }
  return { proc, port, socket };
}

async function openGrid(browser, port, expectTiles) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  await page.goto(`https://127.0.0.1:${port}/login`);
  await page.fill('input[name=user]', 'bench');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForFunction((n) => [...document.querySelectorAll('video')].filter((v) => v.currentTime > 0).length >= n, expectTiles, { timeout: 60_000 });
  return context;
}

async function measure(pid) {
  const a = procStat(pid);
  const ta = threads(pid);
  const ca = chromiumCpu();
  await sleep(SECONDS * 1000);
  const b = procStat(pid);
  const tb = threads(pid);
  const cb = chromiumCpu();
  const split = [...tb].map(([name, cpu]) => [name, ((cpu - (ta.get(name) ?? 0)) * 60) / SECONDS]).filter(([, c]) => c >= 0.05).sort((x, y) => y[1] - x[1]);
  return { cpuPerMinute: ((b.cpu - a.cpu) * 60) / SECONDS, rssMB: b.rss / 1e6, browserCpuPerMinute: ((cb - ca) * 60) / SECONDS, split };
}

const busy = await startCamera(['--width', '1280', '--height', '720', '--fps', '15', '--bitrate', values.bitrate, '--gop-seconds', '1']);
const rows = [];
let latencies = [];
let browser;
try {
  const daemon = await startDaemon('cost', Array.from({ length: N }, (_, i) => ({ name: `cam-${i + 1}`, url: busy.url })));
  await sleep(WARMUP * 1000);
  rows.push({ viewers: 0, ...(await measure(daemon.proc.pid)) });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
  const contexts = [];
  for (const k of BROWSERS) {
    while (contexts.length < k) contexts.push(await openGrid(browser, daemon.port, N));
    await sleep(10_000);
    rows.push({ viewers: k, ...(await measure(daemon.proc.pid)) });
  }
  for (const c of contexts) await c.close();
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.once('exit', r));

  // Latency: one camera that blinks on the wall clock, one page watching it.
  const blink = await startCamera(['--width', '1280', '--height', '720', '--fps', '15', '--gop-seconds', '1', '--blink-seconds', '2']);
  const live = await startDaemon('latency', [{ name: 'blink', url: blink.url }]);
  const context = await openGrid(browser, live.port, 1);
  const page = context.pages()[0];
  latencies = await page.evaluate(async (ms) => {
    const video = document.querySelector('video');
    const canvas = document.createElement('canvas');
    canvas.width = 16;
    canvas.height = 16;
    const g = canvas.getContext('2d', { willReadFrequently: true });
    const found = [];
    let last;
    await new Promise((done) => {
      const started = Date.now();
      const onFrame = () => {
        const now = Date.now();
        g.drawImage(video, 0, 0, 16, 16);
        const white = g.getImageData(8, 8, 1, 1).data[0] > 128;
        if (last !== undefined && white !== last) found.push(now - Math.floor(now / 2000) * 2000);
        last = white;
        if (now - started > ms) done();
        else video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    });
    return found;
  }, Number(values.latency) * 1000);
  await context.close();
  live.proc.kill('SIGTERM');
  blink.proc.kill();
} finally {
  await browser?.close();
  busy.proc.kill();
  rmSync(work, { recursive: true, force: true });
}

const base = rows[0];
const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}, Chromium ${spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout.trim()}`);
console.log(`Command: scripts/bench liveview --cameras ${N} --seconds ${SECONDS} --browsers ${values.browsers} (one shared 1280x720@15 H.264 stream, 1 s GOP, bitrate cap ${values.bitrate} kbit/s; each browser is a Chromium page showing the grid of ${N} tiles)\n`);
console.log('| pages watching | libcamd CPU s per minute | vs nobody watching | libcamd RSS MB | Chromium CPU s per minute |');
console.log('|---|---|---|---|---|');
for (const r of rows) {
  const more = r.viewers === 0 ? '—' : `+${(((r.cpuPerMinute - base.cpuPerMinute) / base.cpuPerMinute) * 100).toFixed(0)} %`;
  console.log(`| ${r.viewers} | ${r.cpuPerMinute.toFixed(2)} | ${more} | ${r.rssMB.toFixed(0)} | ${r.viewers === 0 ? '—' : r.browserCpuPerMinute.toFixed(1)} |`);
}
console.log('\nlibcamd CPU s per minute by thread (name, digits folded to #):\n');
for (const r of rows) console.log(`- ${r.viewers} watching: ${r.split.map(([n, c]) => `${n} ${c.toFixed(2)}`).join(', ')}`);
console.log(`\nGlass to glass (the simulator changes the picture on the wall clock's 2 s boundary; the page notes the first frame showing it): ${sorted.length} changes, median ${pct(50)} ms, p90 ${pct(90)} ms, max ${sorted.at(-1)} ms`);
