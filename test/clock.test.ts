import t from 'tap';
import { MAX_TIMER_MS, systemClock } from '../src/clock.js';

t.test("a timer longer than Node's limit waits instead of firing at once", async (t) => {
  // Node fires a setTimeout of more than 2^31-1 ms (24.8 days) after 1 ms: a 30-day pause
  // or an outbox retry of a month would have ended at once.
  let fired = 0;
  const long = systemClock.setTimeout(() => (fired += 1), MAX_TIMER_MS + 60_000);
  const short = systemClock.setTimeout(() => (fired += 10), 20);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(fired, 10, 'the short timer fired, the long one did not');
  long.cancel();
  short.cancel();
});

t.test('a cancelled timer never fires', async (t) => {
  let fired = false;
  systemClock.setTimeout(() => (fired = true), 10).cancel();
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(fired);
});
