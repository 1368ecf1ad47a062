import { join } from 'node:path';
import t from 'tap';
import type { ClockStep } from '../src/pipeline/recorder.js';
import { shortDir } from './helpers/daemon.js';
import { FakeClock } from './helpers/fakeClock.js';
import { fakeRecorder, firstPipeline } from './helpers/fakePipeline.js';
import { openStore } from './helpers/seed.js';

// The recorder with a stand-in pipeline (GStreamer cannot step the wall clock under a real
// one), the real index and store, and a clock the test moves. The bus messages are the
// ones splitmuxsink posts.
t.test('a wall-clock step during a run is reported once, and segment times follow the pipeline clock', async (t) => {
  const { store, close } = await openStore(shortDir(t));
  t.teardown(close);
  const clock = new FakeClock(Date.parse('2026-11-28T10:00:00Z'));
  const steps: ClockStep[] = [];
  const { recorder, pipelines } = fakeRecorder({ segmentSeconds: 10, store, clock, onClockStep: (step) => steps.push(step) });
  t.teardown(() => recorder.stop());
  await recorder.start();
  const pipeline = await firstPipeline(pipelines);
  const anchor = clock.now();
  const file = (i: number): string => join(store.incomingDir('lobby'), `f${i}.mp4`);

  pipeline.opened(file(0), 0);
  clock.set(anchor + 10_000);
  pipeline.closed(file(0), 10);
  pipeline.opened(file(1), 10);
  t.same(steps, [], 'no step while the clocks agree');

  clock.set(anchor + 20_000 + 3_600_000); // NTP corrects the clock by an hour mid-segment
  pipeline.closed(file(1), 20);
  pipeline.opened(file(2), 20);
  clock.set(clock.now() + 10_000);
  pipeline.closed(file(2), 30);
  await new Promise((r) => setTimeout(r, 300)); // the store indexes in its queue
  t.match(steps, [{ kind: 'forward', driftMs: 3_600_000 }], 'one report for the run, with the size of the step');
  const { segments } = await store.range('lobby', anchor, anchor + 10 * 3_600_000);
  t.same(
    segments.map((s) => [s.start - anchor, s.end - anchor]),
    [
      [0, 10_000],
      [10_000, 20_000],
      [20_000, 30_000],
    ],
    'segments stay back to back on the pipeline clock: no hour-long hole, no overlap',
  );
});

t.test('a part that opens a fraction of a millisecond before the last one closed is not a clock step', async (t) => {
  // splitmuxsink reports the next part's running time from its own clock reading: it can
  // come out just before the previous part's end. Seen under load: false clock.step entries.
  const { store, close } = await openStore(shortDir(t));
  t.teardown(close);
  const clock = new FakeClock(Date.parse('2026-11-28T10:00:00Z'));
  const steps: ClockStep[] = [];
  const { recorder, pipelines } = fakeRecorder({ segmentSeconds: 2, store, clock, onClockStep: (step) => steps.push(step) });
  t.teardown(() => recorder.stop());
  await recorder.start();
  const pipeline = await firstPipeline(pipelines);
  const file = (i: number): string => join(store.incomingDir('lobby'), `j${i}.mp4`);
  pipeline.opened(file(0), 0);
  clock.set(clock.now() + 2000);
  pipeline.closed(file(0), 2.0004);
  await new Promise((r) => setTimeout(r, 200)); // the close is indexed before the next part opens
  pipeline.opened(file(1), 2.0001);
  clock.set(clock.now() + 2000);
  pipeline.closed(file(1), 4);
  await new Promise((r) => setTimeout(r, 200));
  t.same(steps, [], 'no clock step on record');
  const { segments } = await store.range('lobby', 0, clock.now() + 10_000);
  t.equal(segments.length, 2);
  t.ok((segments[1]?.start ?? 0) >= (segments[0]?.end ?? Infinity), 'and still no overlap');
});

t.test('the wall clock stepping back an hour: segments never overlap or run backwards, and each run reports it once', async (t) => {
  const { store, close } = await openStore(shortDir(t));
  t.teardown(close);
  const clock = new FakeClock(Date.parse('2026-11-28T10:00:00Z'));
  const steps: ClockStep[] = [];
  const { recorder, pipelines } = fakeRecorder({ segmentSeconds: 10, store, clock, onClockStep: (step) => steps.push(step) });
  t.teardown(() => recorder.stop());
  await recorder.start();
  const first = await firstPipeline(pipelines);
  const anchor = clock.now();
  const file = (i: number): string => join(store.incomingDir('lobby'), `b${i}.mp4`);
  first.opened(file(0), 0);
  clock.set(anchor + 10_000);
  first.closed(file(0), 10);
  first.opened(file(1), 10);
  clock.set(anchor + 20_000 - 3_600_000); // NTP steps the clock back an hour mid-segment
  first.closed(file(1), 20);
  first.opened(file(2), 20);
  clock.set(clock.now() + 10_000);
  first.closed(file(2), 30);
  await new Promise((r) => setTimeout(r, 300));
  t.match(steps, [{ kind: 'backward', driftMs: -3_600_000 }], 'the step is on record once for the run');

  // The camera drops and reconnects: the new run's wall clock is an hour behind its footage.
  first.error('Could not read from resource.');
  await clock.advance(60_000);
  await new Promise((r) => setTimeout(r, 300)); // the reconnect builds its plan
  const second = pipelines.at(-1);
  if (!second || second === first) return t.fail('no new run');
  second.opened(file(3), 0);
  clock.set(clock.now() + 10_000);
  second.closed(file(3), 10);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(steps.length, 2, 'the new run reports once that it would start behind the footage');
  t.match(steps[1], { kind: 'behind-last-segment' });
  const { segments } = await store.range('lobby', anchor - 10 * 3_600_000, anchor + 10 * 3_600_000);
  t.equal(segments.length, 4, 'every segment indexed');
  t.ok(segments.every((s) => s.end > s.start), 'none with a negative or zero length');
  t.ok(segments.every((s, i) => i === 0 || s.start >= (segments[i - 1]?.end ?? Infinity)), 'none overlapping the one before');
});
