// scripts/bench isolate: isolating one hour of one camera (360 segments of 10 s at a real
// camera's bitrate) against `cat` of the same segment files into one file on the same disk,
// in the same run. Reports throughput of each, the ratio, and libcamd's memory while it
// cuts. Page caches are dropped before each timed run where the kernel allows it.
//   scripts/bench isolate [--segments 360] [--kbps 3000] [--runs 3]
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, release } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { IndexDb } from '../dist/store/indexDb.js';
import { segKey } from '../dist/store/segments.js';
import { checkStoreIdentity } from '../dist/store/identity.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { segments: { type: 'string', default: '360' }, kbps: { type: 'string', default: '3000' }, runs: { type: 'string', default: '3' } } });
const count = Number(values.segments);
const work = mkdtempSync('/var/tmp/libcam-bench-isolate-');
const store = join(work, 'store');
const SEG = 10_000;
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r;
};

// One 10 s segment as libcamd writes them (fragmented MP4, half-second fragments), 1080p15 at the bitrate asked.
const sample = join(work, 'sample.mp4');
run('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=150', 'pattern=snow', '!', 'video/x-raw,width=1920,height=1080,framerate=15/1', '!', 'x264enc', `bitrate=${values.kbps}`, 'key-int-max=15', 'speed-preset=ultrafast', 'tune=zerolatency', '!', 'h264parse', '!', 'mp4mux', 'fragment-duration=500', '!', 'filesink', `location=${sample}`]);
const sampleBytes = statSync(sample).size;

// 360 copies (real files, not links) indexed as one camera's hour, chained.
const from = Date.now() - 2 * 3_600_000;
const index = new IndexDb(join(work, 'index'));
await index.start();
mkdirSync(store, { recursive: true });
await checkStoreIdentity(index, store);
const seg = index.db.sublevel('seg', { valueEncoding: 'json' });
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
const total = sampleBytes * count;

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
  }),
);
const daemon = spawn(process.execPath, [join(ROOT, 'dist/daemon/main.cjs'), '--config', join(work, 'libcam.yaml')], { stdio: 'ignore' });
process.on('exit', () => {
  daemon.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});
const up = () => new Promise((res) => connect(socket).once('connect', () => res(true)).once('error', () => res(false)));
while (!(await up())) await sleep(100);

const dropCaches = () => spawnSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches']).status === 0;
const status = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${daemon.pid}/status`, 'utf8'))?.[1]) / 1024;
const results = { cat: [], isolate: [] };
let cachesDropped = true;
let rssPeak = 0;
const rssBefore = status('VmRSS');
for (let r = 0; r < Number(values.runs); r++) {
  cachesDropped = dropCaches() && cachesDropped;
  const out = join(work, `cat-${r}.mp4`);
  let t0 = performance.now();
  run('sh', ['-c', `cat ${files.map((f) => `'${f}'`).join(' ')} > '${out}' && sync '${out}'`]);
  results.cat.push(total / ((performance.now() - t0) / 1000));
  rmSync(out);

  cachesDropped = dropCaches() && cachesDropped;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, status('VmRSS'))), 100);
  t0 = performance.now();
  const isolate = await new Promise((res) => {
    const proc = spawn(
      process.execPath,
      [join(ROOT, 'dist/cli/main.js'), '--socket', socket, '--json', 'isolate', '--camera', 'cam', '--from', new Date(from).toISOString(), '--to', new Date(from + count * SEG).toISOString(), '--purpose', 'internal-security', '--requested-by', 'benchmark'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('close', (status) => res({ status, stdout, stderr }));
  });
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  if (isolate.status !== 0) throw new Error(`isolate: ${isolate.stderr}`);
  const incident = JSON.parse(isolate.stdout).incident;
  results.isolate.push(total / seconds);
  rssPeak = Math.max(rssPeak, peak);
  spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), '--socket', socket, 'incidents', 'release', incident.id, '--requested-by', 'benchmark', '--note', 'benchmark run'], { encoding: 'utf8' });
}
const mb = (bps) => (bps / 1e6).toFixed(0);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);
console.log(`command: scripts/bench isolate --segments ${count} --kbps ${values.kbps} --runs ${values.runs}`);
console.log(`input: ${count} segments of 10 s, 1080p15 H.264 at ${(sampleBytes * 8 / 10 / 1e6).toFixed(2)} Mbit/s, ${(total / 1e9).toFixed(2)} GB; page caches dropped before each run: ${cachesDropped ? 'yes' : 'no (not permitted here)'}`);
console.log(`cat:     ${results.cat.map(mb).join(' / ')} MB/s (median ${mb(median(results.cat))})`);
console.log(`isolate: ${results.isolate.map(mb).join(' / ')} MB/s (median ${mb(median(results.isolate))}), the clip hashed and fsynced, the index written`);
console.log(`ratio isolate/cat (medians): ${(median(results.isolate) / median(results.cat)).toFixed(2)}`);
console.log(`libcamd RSS: ${rssBefore.toFixed(0)} MB before, ${rssPeak.toFixed(0)} MB peak while cutting`);
process.exit(0);
