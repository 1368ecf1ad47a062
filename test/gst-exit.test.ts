import { spawn } from 'node:child_process';
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
