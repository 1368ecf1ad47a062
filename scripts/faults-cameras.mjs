// scripts/faults cameras [--minutes 5]: cameras that misbehave, beside cameras that do not.
// One real libcamd records seven cameras for --minutes:
//   flapping   the simulator, killed and restarted on the same port, up and down every 5–20 s
//   silent     a TCP port that accepts the connection and never answers (nor sends RTP)
//   resized    the simulator switching its resolution every 20 s (the encoder sends a new SPS)
//   jumps      the simulator whose timestamps jump an hour ahead after a minute (its clock stepped)
//   backwards  the simulator whose timestamps go back 10 s every 30 s
//   steady     the simulator, well behaved (its own encoder, the same settings)
//   pattern    the built-in test pattern
// Every 5 s it reads `libcam status --json` (states and reasons seen, libcamd's RSS and open
// files). At the end, per camera from `libcam recordings --json`: segments, footage, gaps by
// cause, the longest hole between segments, and the checks the issue asks for: no overlapping
// or negative-length segment, nothing dated in the future, the steady cameras with no hole
// over 250 ms, RSS and open files at the end within 5 % of the start (after a warm-up).
// Prints Markdown for BENCHMARKS.md; exits 1 when a check fails.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { libcam, libcamdArgs, startCamera } from './lib/fixtures.mjs';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    minutes: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
    // The control: the same libcamd with the well-behaved cameras only, to tell what its
    // memory does by itself in the first minutes from what the misbehaving cameras cost.
    'well-behaved-only': { type: 'boolean', default: false },
  },
});
const MINUTES = Number(values.minutes);
const WARMUP_S = Number(values.warmup);
const SEGMENT_S = 4;
const work = mkdtempSync('/var/tmp/libcam-faults-cameras-');
const socket = join(work, 's.sock');
const cli = (args) => libcam(socket, args, undefined, 60_000);
const json = (args) => {
  const r = cli([...args, '--json']);
  if (r.status !== 0) throw new Error(`libcam ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};
const iso = (ms) => new Date(ms).toISOString();
const picture = ['--width', '640', '--height', '360', '--fps', '15', '--bitrate', '1000', '--gop-seconds', '1'];

/** A free TCP port on loopback. */
async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

const stoppers = [];
let daemon;
const problems = [];
try {
  // The flapping camera: its own process on a fixed port, killed and started again.
  const flapPort = await freePort();
  /** Each outage of the flapping camera: when it was killed and when it listened again. */
  const flaps = { downs: 0, outages: [] };
  let flapping = await startCamera(['--port', String(flapPort), ...picture]);
  let flapOn = true;
  const flapLoop = (async () => {
    const end = Date.now() + MINUTES * 60_000;
    while (flapOn && Date.now() < end) {
      await sleep(5_000 + Math.random() * 15_000);
      if (!flapOn) break;
      flapping.proc.kill('SIGKILL');
      flaps.downs += 1;
      const outage = { down: Date.now(), up: NaN };
      flaps.outages.push(outage);
      await sleep(5_000 + Math.random() * 15_000);
      if (!flapOn) break;
      flapping = await startCamera(['--port', String(flapPort), ...picture]);
      outage.up = Date.now();
    }
  })();
  stoppers.push(async () => {
    flapOn = false;
    flapping.proc.kill('SIGKILL');
    await flapLoop.catch(() => undefined);
    flapping.proc.kill('SIGKILL');
  });

  // The silent camera: accepts, reads, never writes.
  const held = new Set();
  const silent = createServer((s) => {
    held.add(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => held.delete(s));
  });
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  stoppers.push(() => {
    for (const s of held) s.destroy();
    silent.close();
  });

  const sims = {
    resized: await startCamera([...picture, '--resize-every', '20']),
    jumps: await startCamera([...picture, '--jump-after', '60', '--jump-seconds', '3600']),
    backwards: await startCamera([...picture, '--jump-after', '30', '--jump-seconds', '-10', '--jump-repeat']),
    steady: await startCamera(picture),
  };
  for (const sim of Object.values(sims)) stoppers.push(() => sim.proc.kill());

  const rtsp = (name, url) => `  - { name: ${name}, source: { kind: rtsp, url: "${url}" } }`;
  const control = values['well-behaved-only'];
  const cameras = [
    ...(control ? [] : [rtsp('flapping', `rtsp://127.0.0.1:${flapPort}/stream`), rtsp('silent', `rtsp://127.0.0.1:${silent.address().port}/stream`)]),
    ...Object.entries(sims)
      .filter(([name]) => !control || name === 'steady')
      .map(([name, sim]) => rtsp(name, sim.url)),
    '  - { name: pattern, source: { kind: test-pattern, width: 640, height: 360, fps: 15 } }',
  ];
  const config = join(work, 'libcam.yaml');
  mkdirSync(join(work, 'store'));
  writeFileSync(
    config,
    `store: { path: ${work}/store, segmentSeconds: ${SEGMENT_S} }\nindex: { path: ${work}/index }\nkeys: { path: ${work}/keys }\nsocket: { path: ${socket}, group: libcam-staff }\n` +
      `retention: { maxAge: 1h, minFreeBytes: 1GB }\ncameras:\n${cameras.join('\n')}\n`,
  );
  const log = openSync(join(work, 'libcamd.log'), 'w');
  daemon = spawn(process.execPath, libcamdArgs(config), { stdio: ['ignore', log, log] });
  daemon.once('exit', (code, signal) => problems.push(`libcamd exited (${code ?? signal}) during the run`));
  for (let i = 0; i < 100 && cli(['status', '--json']).status !== 0; i++) await sleep(200);

  const started = Date.now();
  const end = started + MINUTES * 60_000;
  /** Per camera: every state seen, with the reasons. */
  const seen = new Map();
  const samples = [];
  while (Date.now() < end && daemon.exitCode === null) {
    const status = json(['status']);
    samples.push({ at: Date.now(), rss: status.process.rssBytes, fds: status.process.openFiles });
    for (const c of status.cameras) {
      const states = seen.get(c.name) ?? new Map();
      const key = `${c.state}${c.reason ? `: ${c.reason}` : ''}`;
      states.set(key, (states.get(key) ?? 0) + 1);
      seen.set(c.name, states);
    }
    await sleep(5_000);
  }
  const now = Date.now();

  const rows = [];
  const steadyNames = ['steady', 'pattern'];
  for (const name of [...(control ? [] : ['flapping', 'silent', 'resized', 'jumps', 'backwards']), ...steadyNames]) {
    const r = json(['recordings', '--camera', name, '--from', iso(started), '--to', iso(now)]);
    const segments = r.segments.map((s) => ({ start: Date.parse(s.start), end: Date.parse(s.end) }));
    let overlaps = 0;
    let longestHole = 0;
    let holes250 = 0;
    for (let i = 1; i < segments.length; i++) {
      const hole = segments[i].start - segments[i - 1].end;
      if (hole < 0) overlaps += 1;
      if (hole > 250) holes250 += 1;
      longestHole = Math.max(longestHole, hole);
    }
    const negative = segments.filter((s) => s.end < s.start).length;
    const future = segments.filter((s) => s.end > now + 5_000).length;
    const footage = segments.reduce((a, s) => a + Math.max(0, Math.min(s.end, now) - Math.max(s.start, started)), 0);
    const causes = {};
    for (const g of r.gaps) causes[g.cause] = (causes[g.cause] ?? 0) + 1;
    const states = [...(seen.get(name) ?? new Map()).entries()].map(([k, n]) => `${k} (×${n})`).join('; ');
    if (name === 'flapping') {
      // How long after the camera listened again its footage started again.
      for (const o of flaps.outages.filter((x) => Number.isFinite(x.up))) {
        const next = segments.find((seg) => seg.start >= o.down);
        if (next) flaps.backAfter = [...(flaps.backAfter ?? []), next.start - o.up];
      }
    }
    rows.push({ name, segments: segments.length, footage, gaps: r.gaps.length, causes, longestHole, holes250, overlaps, negative, future, states });
    if (overlaps > 0) problems.push(`${name}: ${overlaps} overlapping segments`);
    if (negative > 0) problems.push(`${name}: ${negative} segments end before they start`);
    if (future > 0) problems.push(`${name}: ${future} segments dated in the future`);
    if (r.gaps.some((g) => g.cause !== 'camera-lost' && g.cause !== 'daemon-down')) problems.push(`${name}: a gap labelled ${r.gaps.map((g) => g.cause).join(', ')}`);
    if (steadyNames.includes(name) && (holes250 > 0 || r.gaps.length > 0)) problems.push(`${name} (well behaved): ${r.gaps.length} gaps, ${holes250} holes over 250 ms`);
  }
  if (!control) {
    if (!rows.find((r) => r.name === 'silent')?.states.match(/backoff|error|connecting/)) problems.push('silent: never shown as anything but recording');
    if (rows.find((r) => r.name === 'silent')?.segments > 0) problems.push('silent: has footage');
    const flapRow = rows.find((r) => r.name === 'flapping');
    if (flapRow && flapRow.gaps < Math.max(1, flaps.downs - 1)) problems.push(`flapping: ${flaps.downs} outages but ${flapRow.gaps} gaps`);
  }

  const warm = samples.filter((s) => s.at >= started + WARMUP_S * 1000);
  const first = warm.slice(0, 3);
  const last = warm.slice(-3);
  const avg = (list, key) => list.reduce((a, s) => a + s[key], 0) / Math.max(1, list.length);
  const growth = (key) => ((avg(last, key) - avg(first, key)) / avg(first, key)) * 100;
  if (growth('rss') > 5) problems.push(`RSS grew ${growth('rss').toFixed(1)} %`);
  if (growth('fds') > 5) problems.push(`open files grew ${growth('fds').toFixed(1)} %`);

  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);
  console.log(`Command: scripts/faults cameras --minutes ${MINUTES}${control ? ' --well-behaved-only' : ''} (segments of ${SEGMENT_S} s; the simulator at 640x360@15, 1 s GOP; the flapping camera went down ${flaps.downs} times)\n`);
  console.log('| camera | segments | footage | gaps (cause) | longest hole | holes > 250 ms | overlaps / negative / future | states seen in `libcam status` (samples) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const causes = Object.entries(r.causes).map(([c, n]) => `${n} ${c}`).join(', ') || '0';
    console.log(`| ${r.name} | ${r.segments} | ${(r.footage / 1000).toFixed(0)} s | ${causes} | ${r.segments > 1 ? `${r.longestHole} ms` : '—'} | ${r.holes250} | ${r.overlaps} / ${r.negative} / ${r.future} | ${r.states.replaceAll('|', '/')} |`);
  }
  const back = (flaps.backAfter ?? []).sort((a, b) => a - b);
  if (back.length > 0) console.log(`\nThe flapping camera recorded again ${back[Math.floor(back.length / 2)]} ms (median) and at most ${back.at(-1)} ms after it listened again (${back.length} outages).`);
  console.log(`\nlibcamd after ${WARMUP_S} s of warm-up → at the end: RSS ${(avg(first, 'rss') / 1e6).toFixed(1)} → ${(avg(last, 'rss') / 1e6).toFixed(1)} MB (${growth('rss').toFixed(1)} %), open files ${avg(first, 'fds').toFixed(0)} → ${avg(last, 'fds').toFixed(0)} (${growth('fds').toFixed(1)} %)`);
  console.log(problems.length === 0 ? '\nAll checks passed.' : `\nProblems:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  process.exitCode = problems.length === 0 ? 0 : 1;
} finally {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }
  for (const stop of stoppers) await stop();
  if (!values.keep) rmSync(work, { recursive: true, force: true });
  else console.log(`\nKept: ${work} (libcamd's log in libcamd.log)`);
}
