// scripts/bench export: exporting one camera's hour (360 segments of 10 s at a real camera's
// bitrate, isolated as an incident) against `cp` of that incident's clip to the same disk, in
// the same run, and against copying the same bundle by hand and checking it (cp -r, sync,
// sha256sum -c); and `libcam verify` of the bundle against `sha256sum -c SHA256SUMS`. The
// export is asked and approved first (two passphrases: ~1 s of scrypt, timed apart), then
// `libcam export --complete` is timed: every file fetched over the socket, hashed, fsynced,
// then read back from the disk and verified. Page caches are dropped before each timed run
// where the kernel allows it.
//   scripts/bench export [--segments 360] [--kbps 3000] [--runs 3]
import { rmSync, statSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLI, cameraHour, dropCaches, libcam, median, run } from './bench-hour.mjs';

const { values } = parseArgs({ options: { segments: { type: 'string', default: '360' }, kbps: { type: 'string', default: '3000' }, runs: { type: 'string', default: '3' } } });
const count = Number(values.segments);
const { work, store, socket, from, to, sampleBytes, total, status } = await cameraHour({ segments: count, kbps: values.kbps });
const must = async (args, input) => {
  const r = await libcam(socket, args, input);
  if (r.status !== 0) throw new Error(`libcam ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

const pass = { director: 'lantern walrus cobalt meadow 1947', president: 'quilted orchard saxophone drizzle' };
for (const role of ['director', 'president']) await must(['approvers', 'enroll', '--role', role, '--name', `bench ${role}`], `${pass[role]}\n${pass[role]}\n`);
const incident = JSON.parse(await must(['--json', 'isolate', '--camera', 'cam', '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--purpose', 'law-enforcement-request', '--requested-by', 'benchmark'])).incident;
const clip = join(store, incident.clips[0].path);
const clipBytes = statSync(clip).size;

const results = { cp: [], export: [], approve: [], sha256sum: [], verify: [], byHand: [] };
let bundleBytes = 0;
let files = 0;
let cachesDropped = true;
let rssPeak = 0;
const rssBefore = status('VmRSS');
for (let r = 0; r < Number(values.runs); r++) {
  cachesDropped = dropCaches() && cachesDropped;
  const copy = join(work, `cp-${r}.mp4`);
  let t0 = performance.now();
  run('sh', ['-c', `cp '${clip}' '${copy}' && sync '${copy}'`]);
  results.cp.push(clipBytes / ((performance.now() - t0) / 1000));
  rmSync(copy);

  t0 = performance.now();
  const req = JSON.parse(await must(['--json', 'export', '--incident', incident.id, '--approver', 'director', '--approver', 'president', '--legal-basis', 'subpoena', '--reference', `BENCH-${r}`, '--request', '--out', join(work, `req-${r}.json`)])).request;
  await must(['approve', req, '--approver', 'director'], `${pass.director}\n`);
  await must(['approve', req, '--approver', 'president'], `${pass.president}\n`);
  results.approve.push((performance.now() - t0) / 1000);

  cachesDropped = dropCaches() && cachesDropped;
  const bundle = join(work, `bundle-${r}`);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, status('VmRSS'))), 100);
  t0 = performance.now();
  const done = JSON.parse(await must(['--json', 'export', '--complete', req, '--to', bundle]));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, peak);
  bundleBytes = done.bytes;
  files = done.files;
  results.export.push({ clip: clipBytes / seconds, bundle: bundleBytes / seconds, seconds });

  // By hand, the same bundle: cp -r to another folder, sync, then sha256sum -c there.
  cachesDropped = dropCaches() && cachesDropped;
  const byHand = join(work, `by-hand-${r}`);
  t0 = performance.now();
  run('sh', ['-c', `cp -r '${bundle}' '${byHand}' && sync && cd '${byHand}' && sha256sum --quiet -c SHA256SUMS`]);
  results.byHand.push(bundleBytes / ((performance.now() - t0) / 1000));
  rmSync(byHand, { recursive: true });

  cachesDropped = dropCaches() && cachesDropped;
  t0 = performance.now();
  run('sh', ['-c', 'sha256sum --quiet -c SHA256SUMS'], { cwd: bundle });
  results.sha256sum.push(bundleBytes / ((performance.now() - t0) / 1000));
  cachesDropped = dropCaches() && cachesDropped;
  t0 = performance.now();
  run(process.execPath, [CLI, 'verify', bundle]);
  results.verify.push(bundleBytes / ((performance.now() - t0) / 1000));
  rmSync(bundle, { recursive: true });
}
const mb = (bps) => (bps / 1e6).toFixed(0);
const row = (name, xs, note = '') => console.log(`${name.padEnd(34)} ${xs.map(mb).join(' / ')} MB/s (median ${mb(median(xs))})${note}`);
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Linux ${release()}, Node ${process.version}`);
console.log(`command: scripts/bench export --segments ${count} --kbps ${values.kbps} --runs ${values.runs}`);
console.log(`input: ${count} segments of 10 s, 1080p15 H.264 at ${((sampleBytes * 8) / 10 / 1e6).toFixed(2)} Mbit/s, ${(total / 1e9).toFixed(2)} GB; the clip ${(clipBytes / 1e9).toFixed(2)} GB; the bundle ${files} files, ${(bundleBytes / 1e9).toFixed(2)} GB (segments and clip); page caches dropped before each run: ${cachesDropped ? 'yes' : 'no (not permitted here)'}`);
row('cp of the clip', results.cp);
row('export --complete, clip bytes/s', results.export.map((e) => e.clip), ` (${results.export.map((e) => e.seconds.toFixed(1)).join(' / ')} s)`);
row('export --complete, bundle bytes/s', results.export.map((e) => e.bundle));
console.log(`ratio export/cp (medians, clip bytes): ${(median(results.export.map((e) => e.clip)) / median(results.cp)).toFixed(2)}; (bundle bytes): ${(median(results.export.map((e) => e.bundle)) / median(results.cp)).toFixed(2)}`);
row('cp -r of the bundle, sync, sha256sum -c', results.byHand);
console.log(`ratio export/(cp -r + sha256sum -c) (medians, bundle bytes): ${(median(results.export.map((e) => e.bundle)) / median(results.byHand)).toFixed(2)}`);
console.log(`request + two passphrase approvals: ${results.approve.map((s) => s.toFixed(2)).join(' / ')} s`);
row('sha256sum -c SHA256SUMS', results.sha256sum);
row('libcam verify', results.verify);
console.log(`ratio verify/sha256sum (medians): ${(median(results.verify) / median(results.sha256sum)).toFixed(2)}`);
console.log(`libcamd RSS: ${rssBefore.toFixed(0)} MB before, ${rssPeak.toFixed(0)} MB peak while exporting`);
process.exit(0);
