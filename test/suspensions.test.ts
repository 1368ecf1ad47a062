import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import t, { type Test } from 'tap';
import { CameraSet } from '../src/daemon/cameraSet.js';
import { DiskGuard } from '../src/daemon/diskGuard.js';
import { Pauses } from '../src/daemon/pauses.js';
import type { AuditInput } from '../src/store/audit.js';
import { Holds } from '../src/store/holds.js';
import { Pruner } from '../src/store/retention.js';
import { shortDir } from './helpers/daemon.js';
import { FakeClock } from './helpers/fakeClock.js';
import { fakeRecorder } from './helpers/fakePipeline.js';
import { openStore } from './helpers/seed.js';

// The daemon's pauses, disk guard and a recorder, in one process with a clock the test
// moves: ten minutes of pause and a disk that fills and frees pass in milliseconds. The
// pipeline is a stand-in (GStreamer cannot be told when the disk is full); the index, the
// store and every decision about recording are the real ones.
const MIN_FREE = 1_000_000;

async function eventually(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  for (const until = Date.now() + ms; !ok(); await sleep(10)) if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
}

async function rig(t: Test) {
  const dir = shortDir(t);
  const { index, store, close } = await openStore(dir);
  const clock = new FakeClock();
  const log = pino({ level: 'silent' });
  const audited: AuditInput[] = [];
  const audit = (input: AuditInput): Promise<unknown> => Promise.resolve(audited.push(input));
  const { recorder, pipelines } = fakeRecorder({ segmentSeconds: 2, store, log, clock });
  const cameraConfig = { name: 'lobby', enabled: true, source: { kind: 'test-pattern' as const, width: 16, height: 16, fps: 1, codec: 'h264' as const, pattern: 'ball' } };
  const cameras = new CameraSet([cameraConfig], () => recorder, log, clock);
  const storePath = join(dir, 'store');
  let free = 10 * MIN_FREE;
  const freeBytes = (): Promise<number> => Promise.resolve(free);
  const holds = new Holds(index, store, clock);
  const pruner = new Pruner({ limits: { maxAgeMs: () => 30 * 86_400_000, minFreeBytes: MIN_FREE }, storePath, store, holds, index, log, clock, freeBytes });
  const guard = new DiskGuard({ storePath, minFreeBytes: MIN_FREE, pruner, cameras, log, audit, clock, freeBytes });
  const pauses = new Pauses({ index, cameras, names: ['lobby'], maxDurationMs: 8 * 3_600_000, audit, log, clock });
  await cameras.start();
  guard.start();
  t.teardown(async () => {
    pauses.stop();
    await guard.stop();
    await cameras.stop();
    await close();
  });
  await eventually('the recorder connects', () => pipelines.length === 1);
  pipelines[0]?.opened(join(store.incomingDir('lobby'), 'a.mp4'), 0);
  await eventually('the camera records', () => recorder.status().state === 'recording');
  const actor = { user: 'alice', uid: 1000 };
  return {
    clock,
    recorder,
    pipelines,
    pauses,
    audited,
    pause: (minutes: number) => pauses.pause(['lobby'], { reason: 'privacy', ms: minutes * 60_000, note: null }, actor),
    setFree: (bytes: number) => void (free = bytes),
  };
}

t.test('a pause that ends while the disk is full does not resume recording below the reserve', async (t) => {
  const r = await rig(t);
  await r.pause(10);
  t.equal(r.recorder.status().state, 'paused');

  r.setFree(MIN_FREE / 2); // the disk fills with held footage: nothing the guard may prune
  await r.clock.advance(2000);
  await eventually('the guard notices', () => r.audited.some((a) => a.action === 'disk-full'));
  const both = r.recorder.status();
  t.equal(both.state, 'paused', 'the pause is what the camera shows');
  t.same(both.suspensions.map((s) => s.kind), ['pause', 'disk-full'], 'status lists both reasons, the pause first');

  await r.clock.advance(10 * 60_000);
  await eventually('the pause ends by itself', () => r.audited.some((a) => a.action === 'resume'));
  await sleep(50);
  const after = r.recorder.status();
  t.equal(after.state, 'error', 'with the pause over, the full disk still keeps the camera stopped');
  t.match(after.reason, /^disk-full: /);
  t.same(after.suspensions.map((s) => s.kind), ['disk-full']);
  t.equal(r.pipelines.length, 1, 'no pipeline was started below the reserve');

  r.setFree(10 * MIN_FREE);
  await r.clock.advance(2000);
  await eventually('recording resumes once space is back', () => r.pipelines.length === 2);
  t.equal(r.recorder.status().suspensions.length, 0, 'no reason left');
});

t.test('space that comes back during a pause leaves the camera paused until the pause ends', async (t) => {
  const r = await rig(t);
  r.setFree(MIN_FREE / 2);
  await r.clock.advance(2000);
  await eventually('disk full', () => r.recorder.status().state === 'error');
  await r.pause(5);
  t.same(r.recorder.status().suspensions.map((s) => s.kind), ['pause', 'disk-full']);

  r.setFree(10 * MIN_FREE);
  await r.clock.advance(2000);
  await eventually('the guard sees space again', () => r.audited.some((a) => a.action === 'disk-full.end'));
  await sleep(50);
  t.equal(r.recorder.status().state, 'paused', 'still paused');
  t.equal(r.pipelines.length, 1, 'and not recording');

  await r.clock.advance(5 * 60_000);
  await eventually('recording resumes when the pause ends', () => r.pipelines.length === 2);
});

// Policy §4's pause is "until 14:00" on record, and bounded. When NTP steps the wall clock
// forward during the pause, it ends when the clock reads 14:00 (not an hour of uptime after
// it began); when NTP steps it back, it still ends after the hour it was given (a clock
// corrected back by a day must not keep a camera dark for a day).
for (const [direction, stepMs] of [
  ['forward', 30 * 60_000],
  ['backward', -60 * 60_000],
] as const) {
  t.test(`a pause whose clock steps ${direction} ends at its time on record or after its length, whichever first`, async (t) => {
    const r = await rig(t);
    const [paused] = await r.pause(60);
    const until = paused?.until ?? 0;
    await r.clock.advance(10 * 60_000);
    r.clock.set(r.clock.now() + stepMs);
    // forward: the corrected clock reaches `until` 20 minutes on; backward: 50 minutes of the hour are left.
    const left = Math.min(until - r.clock.now(), 50 * 60_000);
    t.equal(left, direction === 'forward' ? 20 * 60_000 : 50 * 60_000);
    await r.clock.advance(left - 60_000);
    t.equal(r.recorder.status().state, 'paused', 'still paused a minute before');
    t.notOk(r.audited.some((a) => a.action === 'resume'), 'no resume on record yet');
    await r.clock.advance(2 * 60_000);
    await eventually('the pause ends by itself', () => r.audited.some((a) => a.action === 'resume'));
    const resume = r.audited.find((a) => a.action === 'resume');
    t.match(resume?.details, { automatic: true, until: new Date(until).toISOString() }, 'the automatic resume, naming the time on record');
    await eventually('the camera connects again', () => r.pipelines.length >= 2);
  });
}
