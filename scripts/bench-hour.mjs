// One camera's hour as the benchmarks need it: 10 s segments of real fragmented MP4 from
// GStreamer (1080p15 H.264 at a real camera's bitrate) copied into a store (real files, not
// links), indexed and chained as libcamd would have recorded them, and a libcamd on it
// with that camera configured but not recording. Used by scripts/bench isolate and export.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { IndexDb } from '../dist/store/indexDb.js';
import { segmentEncoding } from '../dist/store/segmentCodec.js';
import { checkStoreIdentity } from '../dist/store/identity.js';
import { segKey } from '../dist/store/segments.js';
import { benchNodeArgs, libcamdArgs } from './lib/fixtures.mjs';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'dist/cli/main.js');
const SEG = 10_000;

export const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r;
};

/** Empties the page cache where the kernel allows it; says whether it did. */
export const dropCaches = () => spawnSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']).status === 0;

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Makes the hour in a fresh folder of /var/tmp (the same disk as everything else) and starts
 * libcamd on it. Everything goes when the process exits.
 */
export async function cameraHour({ segments: count, kbps, config = {} }) {
  const work = mkdtempSync('/var/tmp/libcam-bench-');
  const store = join(work, 'store');
  const sample = join(work, 'sample.mp4');
  run('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=150', 'pattern=snow', '!', 'video/x-raw,width=1920,height=1080,framerate=15/1', '!', 'x264enc', `bitrate=${kbps}`, 'key-int-max=15', 'speed-preset=ultrafast', 'tune=zerolatency', '!', 'h264parse', '!', 'mp4mux', 'fragment-duration=500', '!', 'filesink', `location=${sample}`]);
  const sampleBytes = statSync(sample).size;

  const from = Date.now() - 2 * 3_600_000;
  const index = new IndexDb(join(work, 'index'));
  await index.start();
  mkdirSync(store, { recursive: true });
  await checkStoreIdentity(index, store);
  const seg = index.db.sublevel('seg', { valueEncoding: segmentEncoding });
  const head = index.db.sublevel('head', { valueEncoding: 'json' });
  const sha = createHash('sha256').update(readFileSync(sample)).digest('hex');
  const files = [];
  let prev = null;
  for (let i = 0; i < count; i++) {
    const start = from + i * SEG;
    const d = new Date(start);
    const dir = join('cam', String(d.getUTCFullYear()), String(d.getUTCMonth() + 1).padStart(2, '0'), String(d.getUTCDate()).padStart(2, '0'));
    mkdirSync(join(store, dir), { recursive: true });
    const file = join(dir, `${start}.mp4`);
    copyFileSync(sample, join(store, file));
    files.push(join(store, file));
    await seg.put(segKey('cam', start), { camera: 'cam', start, end: start + SEG, bytes: sampleBytes, sha256: sha, prev, file });
    prev = sha;
  }
  await head.put('cam', { sha256: sha, start: from + (count - 1) * SEG, end: from + count * SEG, bytes: sampleBytes * count, segments: count });
  await index.stop();

  const socket = join(work, 'libcam.sock');
  writeFileSync(
    join(work, 'libcam.yaml'),
    JSON.stringify({
      store: { path: store, segmentSeconds: 10 },
      index: { path: join(work, 'index') },
      keys: { path: join(work, 'keys') },
      socket: { path: socket, group: 'libcam-staff' },
      retention: { maxAge: '30d', minFreeBytes: '1GB' },
      cameras: [{ name: 'cam', enabled: false, source: { kind: 'test-pattern' } }],
      log: { level: 'warn' },
      ...config,
    }),
  );
  // LIBCAM_BENCH_NODE_ARGS, such as --cpu-prof (written when libcamd stops on SIGTERM).
  const daemon = spawn(process.execPath, libcamdArgs(join(work, 'libcam.yaml'), benchNodeArgs()), { stdio: 'ignore' });
  process.on('exit', () => {
    daemon.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });
  const up = () => new Promise((res) => connect(socket).once('connect', () => res(true)).once('error', () => res(false)));
  while (!(await up())) await sleep(100);
  /** RSS or another figure of libcamd's /proc status, in MB. */
  const status = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))?.[1]) / 1024;
  return { work, store, socket, files, from, to: from + count * SEG, sampleBytes, total: sampleBytes * count, daemon, status };
}

/** `libcam ARGS --socket …` without blocking the event loop (a sampler may be running). */
export function libcam(socket, args, input = '') {
  return new Promise((res) => {
    const proc = spawn(process.execPath, [CLI, '--socket', socket, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('close', (status) => res({ status, stdout, stderr }));
    proc.stdin.end(input);
  });
}
