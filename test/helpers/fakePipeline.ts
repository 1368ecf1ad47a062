import { writeFileSync } from 'node:fs';
import pino from 'pino';
import type { BusMessage, GstElement, GstPipeline } from '../../src/pipeline/gst.js';
import { Recorder, type RecorderOptions } from '../../src/pipeline/recorder.js';

const SECOND_NS = 1_000_000_000;

/**
 * A stand-in for a recording pipeline, for tests of the recorder's logic where GStreamer
 * cannot do what the test needs (step the wall clock, fill a disk on cue). The bus
 * messages are the ones splitmuxsink posts.
 */
export class FakePipeline implements GstPipeline {
  'auto-flush-bus' = false;
  readonly sink: GstElement = {};
  playing = false;
  private bus: ((message: BusMessage) => void) | undefined;
  play(): void {
    this.playing = true;
  }
  pause(): void {}
  stop(): void {
    this.playing = false;
  }
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
  /** The pipeline fails, as rtspsrc does when the camera goes away. */
  error(message: string): void {
    this.bus?.({ type: 'error', message, debug: '' });
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

/**
 * A recorder of camera `lobby` whose pipelines are FakePipelines, kept in `pipelines` in
 * the order it makes them (a new one at every connect).
 */
export function fakeRecorder(opts: Omit<RecorderOptions, 'name' | 'plan' | 'createPipeline' | 'log'> & { log?: RecorderOptions['log'] }): { recorder: Recorder; pipelines: FakePipeline[] } {
  const pipelines: FakePipeline[] = [];
  const recorder = new Recorder({
    name: 'lobby',
    log: pino({ level: 'silent' }),
    ...opts,
    plan: () => Promise.resolve({ description: 'fake', properties: {}, eosReachesSink: true }),
    createPipeline: () => {
      const p = new FakePipeline();
      pipelines.push(p);
      return p;
    },
  });
  return { recorder, pipelines };
}

/** The recorder's first pipeline, once it has made it (within 5 s). */
export async function firstPipeline(pipelines: readonly FakePipeline[]): Promise<FakePipeline> {
  for (const deadline = Date.now() + 5000; pipelines.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
  const pipeline = pipelines[0];
  if (!pipeline) throw new Error('the recorder built no pipeline');
  return pipeline;
}
