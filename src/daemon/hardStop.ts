import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * The last resort of a shutdown: after `ms`, SIGKILL this process from a separate process.
 * A timer on the main thread cannot do it when that thread is what hangs (a GStreamer state
 * change that never returns), and a worker thread cannot either when the hang is inside
 * process.exit, which ends workers first and then waits for every libuv pool thread. The
 * watcher checks the pid still is this libcamd (same start time) before it kills, writes
 * its reason to our stderr, and is gone with us under systemd (the unit's cgroup).
 */
export function killAfter(ms: number): void {
  const pid = process.pid;
  const started = startTimeOf(pid) ?? '';
  const seconds = (ms / 1000).toFixed(3);
  const script =
    `sleep ${seconds}; ` +
    `[ "$(sed 's/.*) //' /proc/${pid}/stat 2>/dev/null | cut -d' ' -f20)" = "${started}" ] || exit 0; ` +
    `echo "libcamd: graceful shutdown still not done after ${ms / 1000} s; killing libcamd (recovery indexes what was written at the next start)" >&2; ` +
    `kill -9 ${pid}`;
  const watcher = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['ignore', 'ignore', 'inherit'] });
  watcher.unref();
}
