import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// A pipeline stopped before its bus poller reached the bus (the libuv pool busy, as under
// load) used to leave the poller waiting forever: libcamd logged "stopped" and never exited.
// This runs that sequence in a child process with the real binding and checks it exits.
const GST = fileURLToPath(new URL('../dist/pipeline/gst.js', import.meta.url));
const SCRIPT = `
import { pbkdf2 } from 'node:crypto';
import { createPipeline } from ${JSON.stringify(GST)};
// Four pool threads busy for about a second: the bus poller queued behind them
// reaches the bus only after the pipeline has been stopped.
let busy = 4;
const done = () => {
  if (--busy === 0) setTimeout(() => process.exit(0), 300);
};
for (let i = 0; i < 4; i++) pbkdf2('x', 'y', 1_000_000, 32, 'sha256', done);
const pipeline = createPipeline('videotestsrc ! fakesink');
pipeline.pollBus(() => {});
pipeline.play();
setTimeout(() => pipeline.stop(), 50);
`;

t.test('a pipeline stopped while the pool is busy does not keep the process from exiting', async (t) => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    env: { ...process.env, NODE_OPTIONS: '', UV_THREADPOOL_SIZE: '4' },
    stdio: 'ignore',
  });
  const outcome = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve('still running 15 s later');
    }, 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(`exit ${String(code)}`);
    });
  });
  t.equal(outcome, 'exit 0');
});

// gstreamer-superficial as published never freed a pipeline (scripts/patch-gstreamer-
// superficial.mjs): libcamd grew by a whole pipeline at every camera reconnect and every
// still. GStreamer's own leaks tracer lists the objects still alive after twenty stills.
const STILLS = `
const still = ${JSON.stringify(fileURLToPath(new URL('../dist/pipeline/still.js', import.meta.url)))};
const { grabStill } = await import(still);
for (let i = 0; i < 20; i++) await grabStill(process.argv[1], 1500);
for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 200)); }
process.kill(process.pid, 'SIGUSR1');
await new Promise((r) => setTimeout(r, 1000));
process.exit(0);
`;

t.test('a pipeline that is done with is freed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-gst-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'clip.mp4');
  const make = spawnSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=30', '!', 'video/x-raw,width=160,height=120,framerate=10/1', '!', 'x264enc', '!', 'h264parse', '!', 'mp4mux', '!', 'filesink', `location=${file}`]);
  t.equal(make.status, 0, 'a 3 s test clip');
  const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', STILLS, file], {
    env: { ...process.env, NODE_OPTIONS: '', GST_TRACERS: 'leaks(filters=GstObject)', GST_LEAKS_TRACER_SIG: '1', GST_DEBUG: 'GST_TRACER:7' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(run.status, 0, 'twenty stills taken');
  const alive = [...run.stderr.matchAll(/object-alive.*?type-name=\(string\)(\w+)/g)].map((m) => m[1]);
  t.ok(run.stderr.includes('object-alive') || run.stderr.includes('objects-alive'), 'the leaks tracer reported');
  t.same(alive.filter((name) => name === 'GstPipeline' || name === 'GstDecodeBin' || name === 'GstBus'), [], 'no pipeline, decoder bin or bus is left');
  t.same(alive.filter((name) => name === 'GstAppSink' || name === 'GstFileSrc'), [], 'nor the elements libcam looked up by name');
});
