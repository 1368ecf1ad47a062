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
  /**
   * Runs `fn` once after `ms` have passed, however the wall clock is set meanwhile (Node's
   * timers run on the monotonic clock); any length, also beyond Node's 24.8-day timer limit.
   * For intervals: retries, watchdogs, polls.
   */
  setTimeout(fn: () => void, ms: number): Timer;
  /**
   * Runs `fn` once at `when` (UTC ms): when the wall clock reads `when`, or when as much
   * time has passed as there was until `when` when the timer was set, whichever comes
   * first. For times on record: a pause's end, a notification's next attempt, midnight.
   * A step of the wall clock forward brings it nearer (within DEADLINE_CHECK_MS): a pause
   * "until 14:00" ends at 14:00 by the corrected clock, not an hour of uptime later. A step
   * back never pushes it away: a pause of an hour never lasts longer than an hour, a
   * notification's retry never waits a day because the clock was corrected by a day.
   */
  at(fn: () => void, when: number): Timer;
}

/** How often a wall-clock deadline re-reads the wall clock: the most a step can delay or advance it by. */
export const DEADLINE_CHECK_MS = 10_000;

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

/**
 * A deadline on both clocks: a monotonic timer of at most DEADLINE_CHECK_MS, armed again
 * until the wall clock reaches `when` or the time there was until it has passed.
 */
class DeadlineTimer implements Timer {
  private handle: NodeJS.Timeout | undefined;
  private cancelled = false;
  /** performance.now() (monotonic) at which the time that was left when set has passed. */
  private readonly monoDue: number;

  constructor(
    private readonly fn: () => void,
    private readonly when: number,
  ) {
    this.monoDue = performance.now() + (when - Date.now());
    this.check();
  }

  private check(): void {
    if (this.cancelled) return;
    const left = Math.min(this.when - Date.now(), this.monoDue - performance.now());
    if (left <= 0) {
      this.handle = setTimeout(this.fn, 0);
      return;
    }
    this.handle = setTimeout(() => this.check(), Math.min(left, DEADLINE_CHECK_MS));
  }

  cancel(): void {
    this.cancelled = true;
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
  at: (fn, when) => new DeadlineTimer(fn, when),
};
