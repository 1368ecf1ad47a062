// scripts/bench recording: libcamd against ffmpeg's segment muxer (what Frigate runs per
// camera), recording the same N clients of one shared RTSP stream, one after the other in
// the same run. Per recorder: CPU seconds per camera-minute, RSS, and bytes written to
// storage per byte received from the cameras. Prints Markdown for BENCHMARKS.md.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { benchNodeArgs, libcamdArgs, startCamera } from './lib/fixtures.mjs';

const { values } = parseArgs({
  options: {
    cameras: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '15' },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '720' },
    fps: { type: 'string', default: '15' },
    bitrate: { type: 'string', default: '200,2000,4000', description: 'kbit/s, a comma-separated list: one table row pair each' },
    pattern: { type: 'string', default: 'snow', description: "the simulator's picture: snow makes the encoder send at --bitrate" },
    runs: { type: 'string', default: '3', description: 'runs per bitrate (libcamd, then ffmpeg, each run): the median and the spread' },
    audio: { type: 'string', default: 'none' },
    threads: { type: 'boolean', default: false, description: "print libcamd's CPU per thread name (to stderr)" },
  },
});
const N = Number(values.cameras);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const TICK = 100; // USER_HZ on Linux
const work = mkdtempSync('/var/tmp/libcam-bench-');

function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(fields[11]) + Number(fields[12])) / TICK;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const written = Number(/write_bytes:\s+(\d+)/.exec(io)?.[1] ?? 0);
    return { cpu, rss, written };
  } catch {
    return { cpu: 0, rss: 0, written: 0 };
  }
}

/** TCP bytes received by these processes from the camera port (ss -tinp). */
function bytesReceived(pids, port) {
  const out = spawnSync('ss', ['-tinpH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' }).stdout;
  let total = 0;
  const lines = out.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const pid = Number(/pid=(\d+)/.exec(line)?.[1]);
    if (!pids.includes(pid)) continue;
    const info = `${line} ${lines[i + 1] ?? ''}`;
    total += Number(/bytes_received:(\d+)/.exec(info)?.[1] ?? 0);
  }
  return total;
}

/** CPU ticks per thread name (/proc/PID/task/TID/comm): where a process spends its time. */
function threadTicks(pid) {
  const byName = new Map();
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim().replace(/\d+$/, "N");
      const name = String(pid) === tid ? `${comm} (main thread)` : comm;
      byName.set(name, (byName.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended
    }
  }
  return byName;
}

function sample(pids, port) {
  const stats = pids.map(procStat);
  return {
    cpu: stats.reduce((s, x) => s + x.cpu, 0),
    rss: stats.reduce((s, x) => s + x.rss, 0),
    written: stats.reduce((s, x) => s + x.written, 0),
    received: bytesReceived(pids, port),
  };
}

/** The simulator at this bitrate (lib/fixtures.mjs's startCamera; its --audio none is overridden). */
const startSimulator = (bitrate) =>
  startCamera(['--audio', values.audio, '--pattern', values.pattern, '--width', values.width, '--height', values.height, '--fps', values.fps, '--bitrate', String(bitrate)]);

async function measure(name, pids, port) {
  await sleep(WARMUP * 1000);
  const a = sample(pids(), port);
  const threadsA = values.threads ? threadTicks(pids()[0]) : undefined;
  await sleep(SECONDS * 1000);
  const b = sample(pids(), port);
  if (threadsA) {
    const threadsB = threadTicks(pids()[0]);
    const split = [...threadsB].map(([n, t]) => [n, t - (threadsA.get(n) ?? 0)]).filter(([, t]) => t > 0).sort((x, y) => y[1] - x[1]);
    const total = split.reduce((sum, [, t]) => sum + t, 0);
    process.stderr.write(`${name} threads over ${SECONDS} s (ticks, share): ${split.map(([n, t]) => `${n} ${t} (${Math.round((100 * t) / total)} %)`).join(', ')}\n`);
  }
  const cameraMinutes = (N * SECONDS) / 60;
  const receivedMbit = ((b.received - a.received) * 8) / 1e6;
  return {
    name,
    cpuPerCameraMinute: (b.cpu - a.cpu) / cameraMinutes,
    /** What each camera really sent, measured at the recorder's sockets. */
    mbitPerSecond: receivedMbit / N / SECONDS,
    cpuPerMbit: (b.cpu - a.cpu) / Math.max(1e-9, receivedMbit),
    rssMB: b.rss / 1e6,
    receivedMB: (b.received - a.received) / 1e6,
    writtenMB: (b.written - a.written) / 1e6,
    writtenPerReceived: (b.written - a.written) / Math.max(1, b.received - a.received),
  };
}

async function libcamd(url, port) {
  const dir = join(work, 'libcamd');
  mkdirSync(dir, { recursive: true });
  const cameras = Array.from({ length: N }, (_, i) => `  - name: cam-${i + 1}\n    source: { kind: rtsp, url: "${url}" }`).join('\n');
  const config = join(dir, 'libcam.yaml');
  writeFileSync(config, `store: { path: ${dir}/store, segmentSeconds: 10 }\nindex: { path: ${dir}/index }\nkeys: { path: ${dir}/keys }\nsocket: { path: ${dir}/s.sock, group: libcam-staff }\ncameras:\n${cameras}\n`);
  const proc = spawn(process.execPath, libcamdArgs(config, benchNodeArgs()), { stdio: ['ignore', 'ignore', 'inherit'] });
  const result = await measure('libcamd', () => [proc.pid], port);
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
  return result;
}

async function ffmpeg(url, port) {
  // One ffmpeg per camera, as Frigate runs them; started a little apart and restarted if
  // one fails to connect (gst-rtsp-server refuses some of many simultaneous DESCRIBEs
  // while the shared media is being prepared; libcamd retries by itself).
  const procs = [];
  const launch = (i) => {
    const dir = join(work, 'ffmpeg', `cam-${i}`);
    mkdirSync(dir, { recursive: true });
    const proc = spawn('ffmpeg', ['-nostdin', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url, '-map', '0:v', '-c', 'copy',
      '-f', 'segment', '-segment_time', '10', '-reset_timestamps', '1', join(dir, `${Date.now()}-%05d.mp4`)], { stdio: ['ignore', 'ignore', 'ignore'] });
    procs[i - 1] = proc;
    proc.once('exit', () => {
      if (procs[i - 1] === proc && !stopping) setTimeout(() => launch(i), 1000);
    });
  };
  let stopping = false;
  for (let i = 1; i <= N; i++) {
    launch(i);
    await sleep(300);
  }
  const result = await measure('ffmpeg -c copy -f segment', () => procs.map((p) => p.pid), port);
  stopping = true;
  await Promise.all(procs.map((p) => { if (p.exitCode !== null) return undefined; const e = new Promise((r) => p.once('exit', r)); p.kill('SIGINT'); return e; }));
  return result;
}

const RUNS = Number(values.runs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs, digits) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
const ffmpegVersion = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' }).stdout.split('\n')[0];
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}, ${ffmpegVersion}`);
console.log(`Command: scripts/bench recording --cameras ${N} --seconds ${SECONDS} --warmup ${WARMUP} --bitrate ${values.bitrate} --pattern ${values.pattern} --runs ${RUNS} (one shared ${values.width}x${values.height}@${values.fps} H.264 stream, audio ${values.audio}; each run libcamd then ffmpeg on the same stream)\n`);
console.log('| bitrate cap | measured Mbit/s per camera | recorder | CPU s per camera-minute, median (spread) | CPU s per Mbit received | RSS MB (all processes) | written / received | ratio libcamd / ffmpeg, median (spread) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const bitrate of values.bitrate.split(',').map(Number)) {
  const camera = await startSimulator(bitrate);
  const ours = [];
  const theirs = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      ours.push(await libcamd(camera.url, camera.port));
      theirs.push(await ffmpeg(camera.url, camera.port));
      process.stderr.write(`${bitrate} kbit/s run ${run + 1}: libcamd ${ours.at(-1).cpuPerCameraMinute.toFixed(3)}, ffmpeg ${theirs.at(-1).cpuPerCameraMinute.toFixed(3)}\n`);
    }
  } finally {
    camera.proc.kill();
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
  }
  const ratios = ours.map((o, i) => o.cpuPerCameraMinute / (theirs[i]?.cpuPerCameraMinute ?? NaN));
  for (const [rows, ratio] of [[ours, `${median(ratios).toFixed(2)} (${spread(ratios, 2)})`], [theirs, '']]) {
    const cpu = rows.map((r) => r.cpuPerCameraMinute);
    console.log(
      `| ${bitrate} kbit/s | ${median(rows.map((r) => r.mbitPerSecond)).toFixed(2)} | ${rows[0].name} | ${median(cpu).toFixed(3)} (${spread(cpu, 3)}) | ${median(rows.map((r) => r.cpuPerMbit)).toFixed(4)} | ${median(rows.map((r) => r.rssMB)).toFixed(0)} | ${median(rows.map((r) => r.writtenPerReceived)).toFixed(3)} | ${ratio} |`,
    );
  }
}
rmSync(work, { recursive: true, force: true });
