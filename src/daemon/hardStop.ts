import { Worker } from 'node:worker_threads';

// Runs in its own thread: it keeps time even if the main thread is stuck in a native call
// (a GStreamer state change that never returns), writes straight to fd 2 (the main
// thread's streams would need the blocked event loop) and kills the process.
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
setTimeout(() => {
  writeSync(2, 'libcamd: graceful shutdown still not done after ' + workerData.ms / 1000 + ' s; killing libcamd (recovery indexes what was written at the next start)\\n');
  process.kill(workerData.pid, 'SIGKILL');
}, workerData.ms);
`;

/**
 * The last resort of a shutdown: after `ms`, SIGKILL this process from another thread.
 * A setTimeout on the main thread cannot do it when that thread is what hangs.
 */
export function killAfter(ms: number): void {
  // execArgv: [] so that flags such as --input-type=module or loader hooks do not reach it.
  const worker = new Worker(WATCHDOG, { eval: true, execArgv: [], workerData: { ms, pid: process.pid } });
  worker.unref();
}
