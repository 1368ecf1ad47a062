// scripts/soak --hours H: libcamd as it runs in a back room, for hours. 16 RTSP cameras
// (the simulator's shared 1280x720@15 H.264 stream, 1 s GOP, capped at 2 Mbit/s), a
// retention of 15 minutes so that pruning deletes, `libcam prune` every 10 minutes, and a
// staff browser's live picture (a WebSocket, as a tile opens it) on another camera every
// minute for 20 s. Every minute: libcamd's RSS, JavaScript heap, external memory, open
// files and CPU (from `libcam status --json`), and the holes in the footage of the minute
// before last (gaps, and steps over 250 ms between consecutive segments). Prints Markdown
// for BENCHMARKS.md, writes every sample to samples.csv and a plot of memory to --plot.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { libcam, libcamdArgs, selfSignedCert, staffLogin, startCamera } from './lib/fixtures.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    hours: { type: 'string', default: '2' },
    cameras: { type: 'string', default: '16' },
    bitrate: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '10', description: 'minutes before growth is counted' },
    plot: { type: 'string', default: join(ROOT, 'docs', 'soak.svg') },
    keep: { type: 'boolean', default: false },
    'no-viewer': { type: 'boolean', default: false, description: 'no live viewer (to tell its cost from the rest)' },
    'no-prune': { type: 'boolean', default: false },
  },
});
const HOURS = Number(values.hours);
const N = Number(values.cameras);
const WARMUP_MIN = Number(values.warmup);
const PASSWORD = 'velvet parsnip obelisk tundra';
const work = mkdtempSync('/var/tmp/libcam-soak-');
const socket = join(work, 's.sock');
const port = 20000 + Math.floor(Math.random() * 20000);

const cli = (args, input) => libcam(socket, args, input, 60_000);

function json(args) {
  const r = cli([...args, '--json']);
  if (r.status !== 0) throw new Error(`libcam ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A tile watching `camera` for `ms`: how many messages (frames) it got. */
async function watch(cookie, camera, ms) {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/live/${camera}`, { rejectUnauthorized: false, origin: `https://127.0.0.1:${port}`, headers: { Cookie: cookie } });
  let messages = 0;
  ws.on('message', () => (messages += 1));
  const opened = await new Promise((res) => {
    ws.once('open', () => res(true));
    ws.once('unexpected-response', () => res(false));
    ws.once('error', () => res(false));
  });
  if (!opened) return -1;
  await sleep(ms);
  ws.close();
  return messages;
}

/** Gaps and steps over 250 ms in one camera's footage between `from` and `to`. */
function holes(camera, from, to) {
  const r = json(['recordings', '--camera', camera, '--from', from.toISOString(), '--to', to.toISOString()]);
  let steps = 0;
  for (let i = 1; i < r.segments.length; i++) if (Date.parse(r.segments[i].start) - Date.parse(r.segments[i - 1].end) > 250) steps += 1;
  return { gaps: r.gaps.length, steps, segments: r.segments.length };
}

function svg(samples) {
  const W = 720;
  const H = 300;
  const pad = 40;
  const maxT = Math.max(1, ...samples.map((s) => s.minute));
  const maxY = Math.max(1, ...samples.map((s) => s.rssMB)) * 1.1;
  const line = (key, colour) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${samples.map((s) => `${(pad + (s.minute / maxT) * (W - 2 * pad)).toFixed(1)},${(H - pad - (s[key] / maxY) * (H - 2 * pad)).toFixed(1)}`).join(' ')}"/>`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="4" y="${(H - pad - f * (H - 2 * pad) + 4).toFixed(0)}" font-size="11">${(f * maxY).toFixed(0)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
<text x="${pad}" y="16" font-size="13">libcamd memory, MB, over ${maxT} minutes (${N} cameras): RSS (blue), JS heap (green), external (orange)</text>
<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#888"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="#888"/>
${ticks}<text x="${W - pad - 60}" y="${H - 12}" font-size="11">minute ${maxT}</text>
${line('rssMB', '#1f5fbf')}${line('heapMB', '#2a9d3a')}${line('externalMB', '#d9822b')}
</svg>
`;
}

const camera = await startCamera(['--width', '1280', '--height', '720', '--fps', '15', '--bitrate', values.bitrate, '--gop-seconds', '1']);
const login = () => staffLogin(port, 'soak', PASSWORD);
const samples = [];
let daemon;
const problems = [];
try {
  mkdirSync(join(work, 'store'));
  selfSignedCert(work);
  const list = Array.from({ length: N }, (_, i) => `  - name: cam-${i + 1}\n    source: { kind: rtsp, url: "${camera.url}" }`).join('\n');
  const config = join(work, 'libcam.yaml');
  writeFileSync(
    config,
    `store: { path: ${work}/store, segmentSeconds: 10 }\nindex: { path: ${work}/index }\nkeys: { path: ${work}/keys }\nsocket: { path: ${socket}, group: libcam-staff }\n` +
      `retention: { maxAge: 15m, minFreeBytes: 1GB }\nweb: { listen: "127.0.0.1:${port}", tls: { cert: ${work}/tls.crt, key: ${work}/tls.key }, allow: [127.0.0.1/32] }\ncameras:\n${list}\n`,
  );
  daemon = spawn(process.execPath, libcamdArgs(config), { stdio: ['ignore', 'ignore', 'inherit'] });
  daemon.once('exit', (code, signal) => problems.push(`libcamd exited (${code ?? signal}) during the soak`));
  for (let i = 0; i < 100 && cli(['staff', 'add', 'soak'], `${PASSWORD}\n${PASSWORD}\n`).status !== 0; i++) await sleep(300);
  let cookie = await login();
  const started = Date.now();
  const end = started + HOURS * 3_600_000;
  let prunedBytes = 0;
  for (let minute = 0; Date.now() < end && daemon.exitCode === null; minute++) {
    const tick = started + (minute + 1) * 60_000;
    let frames = values['no-viewer'] ? 0 : await watch(cookie, `cam-${(minute % N) + 1}`, 20_000);
    if (frames < 0) {
      cookie = await login(); // the session went idle between viewings
      frames = await watch(cookie, `cam-${(minute % N) + 1}`, 20_000);
    }
    if (!values['no-prune'] && minute > 0 && minute % 10 === 0) prunedBytes += json(['prune']).deleted.bytes;
    await sleep(Math.max(0, tick - Date.now()));
    const status = json(['status']);
    const now = new Date();
    let gaps = 0;
    let steps = 0;
    if (minute >= 3) {
      for (let i = 1; i <= N; i++) {
        const h = holes(`cam-${i}`, new Date(now.getTime() - 180_000), new Date(now.getTime() - 120_000));
        gaps += h.gaps;
        steps += h.steps;
      }
    }
    const p = status.process;
    const sample = {
      minute: minute + 1,
      rssMB: p.rssBytes / 1e6,
      heapMB: p.heapUsedBytes / 1e6,
      externalMB: p.externalBytes / 1e6,
      fds: p.openFiles,
      cpuS: p.cpuSeconds,
      recording: status.cameras.filter((c) => c.state === 'recording').length,
      viewerFrames: frames,
      gaps,
      steps,
    };
    samples.push(sample);
    process.stderr.write(`${JSON.stringify(sample)}\n`);
  }
  writeFileSync(join(work, 'samples.csv'), `${Object.keys(samples[0] ?? {}).join(',')}\n${samples.map((s) => Object.values(s).map((v) => (typeof v === 'number' ? +v.toFixed(2) : v)).join(',')).join('\n')}\n`);
  writeFileSync(values.plot, svg(samples));
  // A run shorter than the warm-up still reports, over all its minutes (and says so).
  const warmedUp = samples.filter((s) => s.minute > WARMUP_MIN);
  const after = warmedUp.length >= 2 ? warmedUp : samples;
  const head = after.slice(0, 5);
  const tail = after.slice(-5);
  const avg = (list, key) => list.reduce((a, s) => a + s[key], 0) / Math.max(1, list.length);
  const growth = (key) => ((avg(tail, key) - avg(head, key)) / avg(head, key)) * 100;
  const cpuPerMin = samples.length > 1 ? ((samples.at(-1).cpuS - samples[0].cpuS) / (samples.length - 1)) : 0;
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);
  const malloc = process.env.MALLOC_ARENA_MAX ? `MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX} ` : '';
  console.log(`Command: ${malloc}scripts/soak --hours ${HOURS}${values['no-viewer'] ? ' --no-viewer' : ''}${values['no-prune'] ? ' --no-prune' : ''} (${N} cameras of one shared 1280x720@15 H.264 stream capped at ${values.bitrate} kbit/s; prune every 10 min with maxAge 15m; a live viewer every minute for 20 s)\n`);
  console.log(`| minutes | RSS MB after warm-up (first 5 → last 5 minutes) | growth | JS heap MB | external MB | open files | CPU s per minute | holes (gaps / steps > 250 ms) | viewers that got no frame | pruned |`);
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  console.log(
    `| ${samples.length} | ${avg(head, 'rssMB').toFixed(1)} → ${avg(tail, 'rssMB').toFixed(1)} | ${growth('rssMB').toFixed(1)} %${after === samples ? ' (no warm-up: run too short)' : ''} | ${avg(head, 'heapMB').toFixed(1)} → ${avg(tail, 'heapMB').toFixed(1)} | ${avg(head, 'externalMB').toFixed(1)} → ${avg(tail, 'externalMB').toFixed(1)} | ${Math.min(...after.map((s) => s.fds))}–${Math.max(...after.map((s) => s.fds))} | ${cpuPerMin.toFixed(2)} | ${samples.reduce((a, s) => a + s.gaps, 0)} / ${samples.reduce((a, s) => a + s.steps, 0)} | ${values['no-viewer'] ? '—' : samples.filter((s) => s.viewerFrames <= 0).length} | ${(prunedBytes / 1e9).toFixed(2)} GB |`,
  );
  if (problems.length > 0) console.log(`\nProblems: ${problems.join('; ')}`);
  console.log(`\nSamples: ${join(work, 'samples.csv')}${values.keep ? '' : ' (removed with the work folder; --keep keeps it)'}; plot: ${values.plot}`);
} finally {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }
  camera.proc.kill();
  if (!values.keep) rmSync(work, { recursive: true, force: true });
}
