import pino from 'pino';
import t from 'tap';
import type { NotifyConfig } from '../src/config/types.js';
import { Outbox, type Send } from '../src/daemon/outbox.js';
import type { AuditInput } from '../src/store/audit.js';
import { shortDir } from './helpers/daemon.js';
import { FakeClock } from './helpers/fakeClock.js';
import { openStore } from './helpers/seed.js';

// The Director outbox's retry schedule over hours, in one process with a clock the test
// moves and a relay that refuses until told otherwise (test/notify.test.ts does the same
// against a real SMTP server in real time).
const notify: NotifyConfig = {
  director: { email: 'director@library.example' },
  smtp: { host: '127.0.0.1', port: 25, from: 'libcam@library.example', secure: false, requireTLS: false },
  retry: { firstMs: 30_000, maxMs: 30 * 60_000 },
};

t.test('a relay that is down: retried after 30 s, doubling to 30 min, the wait kept across a restart, delivered once', async (t) => {
  const { index, close } = await openStore(shortDir(t));
  t.teardown(close);
  const clock = new FakeClock();
  const attempts: number[] = [];
  let relayUp = false;
  const delivered: string[] = [];
  const send: Send = (m) => {
    attempts.push(clock.now());
    if (!relayUp) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:25'));
    delivered.push(m.messageId);
    return Promise.resolve();
  };
  const audited: AuditInput[] = [];
  const make = () => new Outbox({ index, notify, log: pino({ level: 'silent' }), audit: (a) => Promise.resolve(audited.push(a)), send, clock });
  let outbox = make();
  await outbox.start();
  const start = clock.now();
  // Each delivery round (a relay attempt, a synced index write) finishes before time moves on.
  const walk = (ms: number): Promise<void> => clock.advance(ms, () => outbox.idle());
  await outbox.enqueue('footage accessed', 'a still of lobby');
  await walk(1000);
  t.equal(attempts.length, 1, 'tried at once');

  // 30 s, 60 s, 120 s ... each wait doubling, never over 30 minutes.
  await walk(3 * 3_600_000);
  const waits = attempts.slice(1).map((at, i) => (at - (attempts[i] ?? at)) / 1000);
  t.same(waits.slice(0, 6), [30, 60, 120, 240, 480, 960], 'the first waits double from retry.first');
  t.ok(waits.length > 8 && waits.slice(6).every((w) => w === 1800), 'then stay at retry.max (30 min)');
  const status = await outbox.status();
  t.match(status, { pending: 1, lastError: /ECONNREFUSED/ }, 'status says what is pending and why');
  t.ok((status.nextAttempt ?? 0) > clock.now(), 'and when the next try is');

  // A restart in the middle of a wait: the stored next attempt holds, no hammering at start.
  const before = attempts.length;
  await outbox.stop();
  clock.set(clock.now() + 60_000);
  outbox = make();
  await outbox.start();
  await walk(1000);
  t.equal(attempts.length, before, 'no attempt at start-up before the stored time');
  relayUp = true;
  await walk(30 * 60_000);
  t.equal(delivered.length, 1, 'delivered once the relay is back');
  await walk(3 * 3_600_000);
  t.equal(delivered.length, 1, 'and only once');
  t.match(await outbox.status(), { pending: 0, delivered: 1, nextAttempt: null });
  t.same(audited.map((a) => a.action), ['notify.delivered'], 'the delivery is audited');
  t.ok(clock.now() - start > 6 * 3_600_000, 'six hours of outage passed in this test');
  await outbox.stop();
});

t.test("a notification's next attempt: a clock step forward brings it nearer, a step back does not push it away", async (t) => {
  const { index, close } = await openStore(shortDir(t));
  t.teardown(close);
  const clock = new FakeClock();
  const attempts: number[] = [];
  const send: Send = () => {
    attempts.push(clock.now());
    return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:25'));
  };
  const outbox = new Outbox({ index, notify: { ...notify, retry: { firstMs: 3_600_000, maxMs: 3_600_000 } }, log: pino({ level: 'silent' }), audit: () => Promise.resolve(), send, clock });
  await outbox.start();
  t.teardown(() => outbox.stop());
  const walk = (ms: number): Promise<void> => clock.advance(ms, () => outbox.idle());
  await outbox.enqueue('footage accessed', 'a still of lobby');
  await walk(1000);
  t.equal(attempts.length, 1, 'tried at once, refused: the next attempt in an hour');
  const next = (await outbox.status()).nextAttempt ?? 0;

  // NTP steps the clock forward 40 minutes: the attempt comes 20 minutes later, not 60.
  clock.set(clock.now() + 40 * 60_000);
  await walk(next - clock.now() - 60_000);
  t.equal(attempts.length, 1, 'not before the time on record');
  await walk(2 * 60_000);
  t.equal(attempts.length, 2, 'at the time on record by the corrected clock');
  t.ok((attempts[1] ?? 0) >= next, 'and not before it');

  // Back a day: the attempt still comes after the hour it was given, not a day and an hour.
  const again = (await outbox.status()).nextAttempt ?? 0;
  const wait = again - clock.now();
  clock.set(clock.now() - 86_400_000);
  await walk(wait - 60_000);
  t.equal(attempts.length, 2, 'not before its wait is over');
  await walk(2 * 60_000);
  t.equal(attempts.length, 3, 'a step back does not push the attempt away: it comes after the wait it was given');
});
