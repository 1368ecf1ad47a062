import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import type { Clock, Timer } from '../../src/clock.js';

/**
 * A clock the test moves. It keeps two times, as the machine does: the wall clock (`now`,
 * which `set` steps as NTP would) and the monotonic time `setTimeout` counts on (which no
 * step moves). `advance` moves both; timers fire only when it passes their time, in order,
 * each followed by a moment of real time so the work it starts (index writes through
 * libuv's pool, audit entries) finishes and sets its next timer before fake time moves on.
 * `at` timers are due at their wall time or after the time there was until it, whichever
 * comes first (a step forward brings them nearer, a step back never pushes them away);
 * `setTimeout` timers count monotonic time only.
 */
export class FakeClock implements Clock {
  private timers: { at: number; wall: boolean; monoDue: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  private seq = 0;
  /** Monotonic time, ms: starts equal to the wall clock and only `advance` moves it. */
  private mono: number;

  constructor(private time = Date.parse('2026-11-28T12:00:00Z')) {
    this.mono = time;
  }

  now(): number {
    return this.time;
  }

  /** Sets the wall clock (a clock step) without firing timers or moving monotonic time. */
  set(ms: number): void {
    this.time = ms;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.add(fn, this.mono + Math.max(0, ms), false);
  }

  /** Due at `when` by the wall clock or after the time there was until it, whichever first (as src/clock.ts). */
  at(fn: () => void, when: number): Timer {
    return this.add(fn, when, true, this.mono + (when - this.time));
  }

  private add(fn: () => void, at: number, wall: boolean, monoDue = at): Timer {
    const timer = { at, wall, monoDue, seq: this.seq++, fn, cancelled: false };
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
    const until = this.mono + ms;
    // On the monotonic scale: a wall-clock timer is due when the monotonic time has moved as
    // far as its wall time is ahead (the offset between the two holds while time advances).
    const due = (t: { at: number; wall: boolean; monoDue: number }): number => (t.wall ? Math.min(t.at - this.time + this.mono, t.monoDue) : t.at);
    for (;;) {
      await settle();
      const next = this.timers.filter((t) => !t.cancelled && due(t) <= until).sort((a, b) => due(a) - due(b) || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      const step = Math.max(0, due(next) - this.mono);
      this.mono += step;
      this.time += step;
      next.fn();
      await afterEach?.();
    }
    this.time += until - this.mono;
    this.mono = until;
    await settle();
  }
}

/** Turns of the event loop and a few real milliseconds: enough for chains of awaited index writes to finish. */
export async function settle(turns = 10): Promise<void> {
  for (let i = 0; i < turns; i++) await tick();
  await sleep(3);
  for (let i = 0; i < turns; i++) await tick();
}
