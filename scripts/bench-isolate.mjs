// scripts/bench isolate: isolating one hour of one camera (360 segments of 10 s at a real
// camera's bitrate) against `cat` of the same segment files into one file on the same disk,
// in the same run. Reports throughput of each, the ratio, and libcamd's memory while it
// cuts. Page caches are dropped before each timed run where the kernel allows it.
//   scripts/bench isolate [--segments 360] [--kbps 3000] [--runs 3]
import { rmSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cameraHour, dropCaches, libcam, median, run } from './bench-hour.mjs';

const { values } = parseArgs({ options: { segments: { type: 'string', default: '360' }, kbps: { type: 'string', default: '3000' }, runs: { type: 'string', default: '3' } } });
const count = Number(values.segments);
const { work, socket, files, from, to, sampleBytes, total, status } = await cameraHour({ segments: count, kbps: values.kbps });
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
  const isolate = await libcam(socket, ['--json', 'isolate', '--camera', 'cam', '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--purpose', 'internal-security', '--requested-by', 'benchmark']);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  if (isolate.status !== 0) throw new Error(`isolate: ${isolate.stderr}`);
  const incident = JSON.parse(isolate.stdout).incident;
  results.isolate.push(total / seconds);
  rssPeak = Math.max(rssPeak, peak);
  await libcam(socket, ['incidents', 'release', incident.id, '--requested-by', 'benchmark', '--note', 'benchmark run']);
}
const mb = (bps) => (bps / 1e6).toFixed(0);
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);
console.log(`command: scripts/bench isolate --segments ${count} --kbps ${values.kbps} --runs ${values.runs}`);
console.log(`input: ${count} segments of 10 s, 1080p15 H.264 at ${(sampleBytes * 8 / 10 / 1e6).toFixed(2)} Mbit/s, ${(total / 1e9).toFixed(2)} GB; page caches dropped before each run: ${cachesDropped ? 'yes' : 'no (not permitted here)'}`);
console.log(`cat:     ${results.cat.map(mb).join(' / ')} MB/s (median ${mb(median(results.cat))})`);
console.log(`isolate: ${results.isolate.map(mb).join(' / ')} MB/s (median ${mb(median(results.isolate))}), the clip hashed and fsynced, the index written`);
console.log(`ratio isolate/cat (medians): ${(median(results.isolate) / median(results.cat)).toFixed(2)}`);
console.log(`libcamd RSS: ${rssBefore.toFixed(0)} MB before, ${rssPeak.toFixed(0)} MB peak while cutting`);
process.exit(0);
