import { writeFileSync } from 'node:fs';
import type { BusMessage, GstElement, GstPipeline } from '../../src/pipeline/gst.js';

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
  /** splitmuxsink opens a fragment file at this running time (seconds). */
  opened(file: string, seconds: number): void {
    this.bus?.({ type: 'element', name: 'splitmuxsink-fragment-opened', location: file, 'running-time': String(seconds * SECOND_NS) });
  }
  closed(file: string, seconds: number): void {
    writeFileSync(file, Buffer.alloc(1000, 7));
    this.bus?.({ type: 'element', name: 'splitmuxsink-fragment-closed', location: file, 'running-time': String(seconds * SECOND_NS) });
  }
}
