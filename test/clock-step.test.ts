import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import type { Clock } from '../src/clock.js';
import type { BusMessage, GstElement, GstPipeline } from '../src/pipeline/gst.js';
import { Recorder, type ClockStep } from '../src/pipeline/recorder.js';
import { shortDir } from './helpers/daemon.js';
import { openStore } from './helpers/seed.js';

// The recorder with a stand-in pipeline (GStreamer cannot step the wall clock under a real
// one), the real index and store, and a clock the test moves. The bus messages are the
// ones splitmuxsink posts.
const SECOND_NS = 1_000_000_000;

class FakePipeline implements GstPipeline {
  'auto-flush-bus' = false;
  readonly sink: GstElement = {};
  private bus: ((message: BusMessage) => void) | undefined;
  play(): void {}
  pause(): void {}
  stop(): void {}
  seek(): boolean {
    return true;
  }
  sendEOS(): void {
    this.bus?.({ type: 'eos' });
  }
  findChild(name: string): GstElement | undefined {
    return name === 'sink' ? this.sink : undefined;
  }
  pollBus(callback: (message: BusMessage) => void): void {
    this.bus = callback;
  }
  /** splitmuxsink opens a fragment file at this running time (seconds). */
  opened(file: string, seconds: number): void {
    this.bus?.({ type: 'element', name: 'splitmuxsink-fragment-opened', location: file, 'running-time': String(seconds * SECOND_NS) });
  }
  closed(file: string, seconds: number): void {
    writeFileSync(file, Buffer.alloc(1000, 7));
    this.bus?.({ type: 'element', name: 'splitmuxsink-fragment-closed', location: file, 'running-time': String(seconds * SECOND_NS) });
  }
}

t.test('a wall-clock step during a run is reported once, and segment times follow the pipeline clock', async (t) => {
  const { store, close } = await openStore(shortDir(t));
  t.teardown(close);
  let now = Date.parse('2026-11-28T10:00:00Z');
  const clock: Clock = { now: () => now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (timer) => clearTimeout(timer) };
  const pipelines: FakePipeline[] = [];
  const steps: ClockStep[] = [];
  const recorder = new Recorder({
    name: 'lobby',
    segmentSeconds: 10,
    store,
    log: pino({ level: 'silent' }),
    clock,
    plan: () => Promise.resolve({ description: 'fake', properties: {}, eosReachesSink: true }),
    createPipeline: () => {
      const p = new FakePipeline();
      pipelines.push(p);
      return p;
    },
    onClockStep: (step) => steps.push(step),
  });
  t.teardown(() => recorder.stop());
  await recorder.start();
  const deadline = Date.now() + 5000;
  while (pipelines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const pipeline = pipelines[0];
  if (!pipeline) throw new Error('the recorder built no pipeline');
  const anchor = now;
  const file = (i: number): string => join(store.incomingDir('lobby'), `f${i}.mp4`);

  pipeline.opened(file(0), 0);
  now = anchor + 10_000;
  pipeline.closed(file(0), 10);
  pipeline.opened(file(1), 10);
  t.same(steps, [], 'no step while the clocks agree');

  now = anchor + 20_000 + 3_600_000; // NTP corrects the clock by an hour mid-segment
  pipeline.closed(file(1), 20);
  pipeline.opened(file(2), 20);
  now += 10_000;
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
