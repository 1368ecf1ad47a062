import t from 'tap';
import { DEADLINE_CHECK_MS, MAX_TIMER_MS, systemClock } from '../src/clock.js';

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

t.test('a wall-clock deadline follows a step of the wall clock', async (t) => {
  // The machine's clock cannot be stepped under the other tests running beside this one, so
  // Date.now is moved here (the one stand-in): the timer must notice the step on its own
  // within DEADLINE_CHECK_MS, where a plain timer would wait for the uptime it was given.
  const realNow = Date.now.bind(Date);
  let offset = 0;
  Date.now = () => realNow() + offset;
  t.teardown(() => void (Date.now = realNow));
  let firedAt = 0;
  const deadline = systemClock.at(() => (firedAt = realNow()), Date.now() + 3_600_000);
  t.teardown(() => deadline.cancel());
  const stepped = realNow();
  offset = 3_600_000; // NTP: the clock was an hour slow
  while (firedAt === 0 && realNow() - stepped < DEADLINE_CHECK_MS + 5000) await new Promise((r) => setTimeout(r, 100));
  t.ok(firedAt > 0, 'the deadline fired once the corrected clock reached it');
  t.ok(firedAt - stepped <= DEADLINE_CHECK_MS + 500, `within ${DEADLINE_CHECK_MS / 1000} s of the step (${firedAt - stepped} ms)`);

  // And back a day: a deadline 300 ms away still fires in 300 ms, where a wall-clock-only
  // timer would wait a day.
  let firedBack = false;
  const soon = systemClock.at(() => (firedBack = true), Date.now() + 300);
  t.teardown(() => soon.cancel());
  offset -= 86_400_000;
  await new Promise((r) => setTimeout(r, 1000));
  t.ok(firedBack, 'a step back does not push a deadline away');
});
