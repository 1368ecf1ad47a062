import { createRequire } from 'node:module';

/**
 * sd_notify for `Type=notify`. The card's `systemd-notify` npm package spawns the
 * `systemd-notify` binary: it cannot send WATCHDOG=1 or STOPPING=1, the message comes
 * from a child (so systemd needs NotifyAccess=all), and it waits ~5 s for a barrier
 * reply from listeners that are not systemd. `sd-notify` binds libsystemd's own
 * sd_notify() and sends from this process, so we use it for every message.
 * Nothing is sent, and the binding is not even loaded, when NOTIFY_SOCKET is unset.
 */
type Send = (state: string) => void;

/** sd-notify ships no types: this is the one call of its native part we use (notify.cc). */
interface Binding {
  sendState(state: string): void;
}

function isBinding(value: unknown): value is Binding {
  return typeof value === 'object' && value !== null && 'sendState' in value && typeof value.sendState === 'function';
}

function loadSender(): Send | undefined {
  if (!process.env['NOTIFY_SOCKET']) return undefined;
  const binding: unknown = createRequire(import.meta.url)('sd-notify');
  if (!isBinding(binding)) throw new Error('the sd-notify binding has no sendState(); reinstall with npm ci');
  return (state) => binding.sendState(state);
}

/** The watchdog interval systemd asked for, halved as sd_watchdog_enabled(3) advises; or undefined. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const pid = env['WATCHDOG_PID'];
  if (pid !== undefined && Number(pid) !== process.pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

export class SdNotify {
  private send: Send | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** READY=1 with a status line, then WATCHDOG=1 at half of WATCHDOG_USEC. */
  ready(status: string): void {
    this.send = loadSender();
    if (!this.send) return;
    this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
    const interval = watchdogIntervalMs(this.env);
    if (interval !== undefined) {
      this.send('WATCHDOG=1');
      this.timer = setInterval(() => this.send?.('WATCHDOG=1'), interval);
      this.timer.unref();
    }
  }

  status(line: string): void {
    this.send?.(`STATUS=${line.replace(/\n/g, ' ')}`);
  }

  stopping(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.send?.('STOPPING=1\nSTATUS=shutting down');
  }
}
