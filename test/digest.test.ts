import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { AuditDigest, nextMidnight } from '../src/daemon/digest.js';
import { Outbox, type Send } from '../src/daemon/outbox.js';
import { AuditTrail } from '../src/store/audit.js';
import { shortDir } from './helpers/daemon.js';
import { FakeClock } from './helpers/fakeClock.js';
import { openStore } from './helpers/seed.js';

// The daily digest with a clock the test moves: midnight comes in milliseconds.
t.test('each midnight the Director is mailed the day’s entries and the chain head; a restart neither repeats nor skips a day', async (t) => {
  const dir = shortDir(t);
  const { index, close } = await openStore(dir);
  t.teardown(close);
  const clock = new FakeClock(new Date(2026, 10, 28, 9, 0, 0).getTime()); // 09:00 local
  const log = pino({ level: 'silent' });
  const trail = new AuditTrail(index, log, clock, join(dir, 'keys'));
  await trail.start();
  const mails: { subject: string; text: string }[] = [];
  const send: Send = (m) => Promise.resolve(void mails.push({ subject: m.subject, text: m.text }));
  const notify = {
    director: { email: 'director@library.example' },
    smtp: { host: '127.0.0.1', port: 25, from: 'libcam@library.example', secure: false, requireTLS: false },
    retry: { firstMs: 30_000, maxMs: 1_800_000 },
  };
  const outbox = new Outbox({ index, notify, log, audit: (a) => trail.append(a), send, clock });
  await outbox.start();
  let digest = new AuditDigest({ trail, outbox, index, clock, log });
  await digest.start();
  const step = (ms: number): Promise<void> =>
    clock.advance(ms, async () => {
      await digest.idle();
      await outbox.idle();
    });

  await trail.append({ action: 'pause', subject: 'lobby', actor: { user: 'alice', uid: 1000 } });
  await step(3_600_000);
  const last = await trail.append({ action: 'hold.place', subject: 'stacks', actor: { user: 'bob', uid: 1001, requestedBy: 'the Director' } });
  t.same(mails, [], 'nothing mailed before midnight');

  await step(nextMidnight(clock.now()) - clock.now() + 1000);
  t.equal(mails.length, 1, 'one digest at midnight');
  const [day] = mails;
  t.match(day?.subject, 'libcam: audit digest for 2026-11-28 (2 entries)');
  t.match(day?.text, /#1 .* alice {2}pause {2}lobby/);
  t.match(day?.text, /#2 .* bob for the Director {2}hold\.place {2}stacks/);
  t.match(day?.text, `Audit chain head: ${last.seq}:${last.hash}`, 'with the head, to keep');
  t.match(day?.text, `libcam audit verify --anchor ${last.seq}:${last.hash}`);
  t.match(day?.text, trail.appliance.fingerprint);
  t.same((await trail.verify([{ seq: last.seq, hash: last.hash }])).ok, true, 'the anchor checks against the trail');

  // A restart the same day: no second digest for the day that was mailed.
  digest.stop();
  digest = new AuditDigest({ trail, outbox, index, clock, log });
  await digest.start();
  await step(3_600_000);
  t.equal(mails.filter((m) => /audit digest/.test(m.subject)).length, 1, 'a restart does not mail the day again');

  // Down for two days: the days missed go out in one digest at the next start.
  digest.stop();
  clock.set(clock.now() + 2 * 86_400_000);
  await trail.append({ action: 'daemon.start' });
  digest = new AuditDigest({ trail, outbox, index, clock, log });
  await digest.start();
  await step(1000);
  const digests = mails.filter((m) => /audit digest/.test(m.subject));
  t.equal(digests.length, 2, 'the missed days are mailed at the next start');
  t.match(digests[1]?.text, /notify\.delivered/, 'including what happened since');
  digest.stop();
  await outbox.stop();
});
