/**
 * Time as the daemon sees it. One clock is made in the composition root and handed to
 * every component that reads the time or waits (recorders, pauses, the outbox, the disk
 * guard, holds, the audit trail, retention), so that their behaviour over hours and days
 * is tested in milliseconds with a clock the test moves (test/helpers/fakeClock.ts).
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock time, UTC milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms`; any length, also beyond Node's 24.8-day timer limit. */
  setTimeout(fn: () => void, ms: number): Timer;
}

/** The longest delay Node's setTimeout takes; a longer one fires at once (with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer longer than Node's limit, chained from shorter ones. */
class SystemTimer implements Timer {
  private handle: NodeJS.Timeout | undefined;

  constructor(
    private readonly fn: () => void,
    ms: number,
  ) {
    this.arm(Math.max(0, ms));
  }

  private arm(left: number): void {
    if (left > MAX_TIMER_MS) {
      this.handle = setTimeout(() => this.arm(left - MAX_TIMER_MS), MAX_TIMER_MS);
    } else {
      this.handle = setTimeout(this.fn, left);
    }
  }

  cancel(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
  }
}

/** A time as the wire, the audit trail and the logs write it: ISO 8601 UTC. The one place. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => new SystemTimer(fn, ms),
};
