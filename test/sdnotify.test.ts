import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { ROOT, cli, shortDir, spawnDaemon, writeConfig } from './helpers/daemon.js';

/** systemd's side of sd_notify: a datagram socket we listen on, every message in order. */
async function listen(t: Test, path: string): Promise<{ messages: string[]; times: number[]; next: (match: RegExp) => Promise<string> }> {
  const proc = spawn('/usr/bin/python3', [join(ROOT, 'test', 'fixtures', 'notify-listener.py'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    proc.kill();
  });
  const messages: string[] = [];
  const times: number[] = [];
  const waiters: { match: RegExp; resolve: (m: string) => void }[] = [];
  const lines = createInterface({ input: proc.stdout });
  await new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { listening?: string; message?: string };
      if (event.listening) return resolve();
      const message = event.message ?? '';
      messages.push(message);
      times.push(performance.now());
      for (const w of waiters.filter((w) => w.match.test(message))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(message);
      }
    });
  });
  const next = (match: RegExp, ms = 15_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const seen = messages.find((m) => match.test(m));
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`no message matching ${String(match)} within ${ms} ms; got: ${messages.join(' | ')}`)), ms);
      waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  return { messages, times, next };
}

t.test('READY=1 once the socket answers, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on shutdown', async (t) => {
  const dir = shortDir(t);
  const notifySocket = join(dir, 'notify');
  const listener = await listen(t, notifySocket);
  const configFile = writeConfig(dir);
  const daemon = spawnDaemon(t, dir, configFile, { NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: '400000' });

  const ready = await listener.next(/READY=1/);
  t.equal(cli(['status'], { socket: daemon.socket }).status, 0, 'the control socket answers when READY=1 arrives');
  t.match(ready, /STATUS=cameras: /, 'READY comes with a one-line status');
  t.match(ready, `MAINPID=${daemon.proc.pid}`);

  await new Promise((r) => setTimeout(r, 1500));
  // The median interval between pings, robust to a busy machine delaying one or two.
  const pings = listener.times.filter((_, i) => listener.messages[i] === 'WATCHDOG=1');
  const intervals = pings.slice(1).map((at, i) => at - (pings[i] ?? at)).sort((a, b) => a - b);
  const median = intervals[Math.floor(intervals.length / 2)] ?? Infinity;
  t.ok(pings.length >= 4, `WATCHDOG=1 keeps coming (${pings.length} pings)`);
  t.ok(median > 120 && median < 320, `WATCHDOG=1 every 200 ms, half of WATCHDOG_USEC (median interval ${Math.round(median)} ms)`);

  // STATUS= follows the cameras: a pause shows there.
  t.equal(cli(['pause', '--camera', 'stacks', '--reason', 'maintenance', '--for', '5m'], { socket: daemon.socket }).status, 0);
  const changed = await listener.next(/^STATUS=.*1 paused/);
  t.match(changed, /^STATUS=cameras: .*1 paused/, `STATUS= changes when a camera is paused (${changed})`);

  daemon.proc.kill('SIGTERM');
  const stopping = await listener.next(/STOPPING=1/);
  t.match(stopping, 'STOPPING=1');
  t.equal((await daemon.exited).code, 0);
});

t.test('no watchdog pings when WATCHDOG_PID names another process', async (t) => {
  const dir = shortDir(t);
  const notifySocket = join(dir, 'notify');
  const listener = await listen(t, notifySocket);
  const daemon = spawnDaemon(t, dir, writeConfig(dir), { NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' });
  await listener.next(/READY=1/);
  await new Promise((r) => setTimeout(r, 800));
  t.equal(listener.messages.filter((m) => m === 'WATCHDOG=1').length, 0, 'the watchdog belongs to pid 1, not to us');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});
