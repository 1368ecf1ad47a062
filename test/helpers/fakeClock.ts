import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import type { Clock, Timer } from '../../src/clock.js';

/**
 * A clock the test moves: `now` is whatever the test says, and timers fire only when
 * `advance` passes their time, in order, each followed by a moment of real time so the
 * work it starts (index writes through libuv's pool, audit entries) finishes and sets its
 * next timer before fake time moves on.
 */
export class FakeClock implements Clock {
  private timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  private seq = 0;

  constructor(private time = Date.parse('2026-11-28T12:00:00Z')) {}

  now(): number {
    return this.time;
  }

  /** Sets the wall clock (a clock step) without firing timers. */
  set(ms: number): void {
    this.time = ms;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Timers waiting, for assertions. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way; after each,
   * `afterEach` (when given) is awaited: the work the timer started, finished.
   */
  async advance(ms: number, afterEach?: () => Promise<void>): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => !t.cancelled && t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = Math.max(this.time, due.at);
      due.fn();
      await afterEach?.();
    }
    this.time = until;
    await settle();
  }
}

/** Turns of the event loop and a few real milliseconds: enough for chains of awaited index writes to finish. */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await tick();
  await sleep(3);
  for (let i = 0; i < turns; i++) await tick();
}
