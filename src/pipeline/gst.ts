import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The part of gstreamer-superficial libcam uses, typed. The binding ships no types; the
 * shapes below are read off its Pipeline.cpp and GObjectWrap.cpp (1.7.4):
 * - `new Pipeline(desc)` is gst_parse_launch: never put config strings in `desc`;
 * - element properties are set by assignment; numbers travel as floats, so only whole
 *   values that a float holds exactly should be set that way;
 * - bus message fields of type guint64 (running-time) arrive as decimal strings;
 * - `pollBus` parks one libuv pool thread per pipeline in gst_bus_timed_pop with no timeout,
 *   and re-parks it after each message until the pipeline is NULL. With the bus's default
 *   auto-flush, going READY→NULL drops the queued messages and posts none: a poller that
 *   reached the bus after that (a busy pool) waits forever, pins the pool thread, and makes
 *   process.exit hang joining it. So every pipeline is created with auto-flush-bus false:
 *   the state change to NULL then always reaches the poller.
 */
export interface GstElement {
  [property: string]: unknown;
}

export interface BusMessage {
  type: string;
  _src_element_name?: string;
  name?: string;
  message?: string;
  debug?: string;
  details?: string;
  location?: string;
  'running-time'?: string | number;
  [field: string]: unknown;
}

export interface GstPipeline {
  play(): void;
  pause(): void;
  stop(): void;
  /** A time seek in whole seconds (the binding takes an Int32); `flags` are GstSeekFlags. */
  seek(seconds: number, flags: number): boolean;
  sendEOS(): void;
  findChild(name: string): GstElement | undefined;
  pollBus(callback: (message: BusMessage) => void): void;
  'auto-flush-bus': boolean;
}

interface Binding {
  Pipeline: new (description: string) => GstPipeline;
}

function isBinding(value: unknown): value is Binding {
  return typeof value === 'object' && value !== null && 'Pipeline' in value && typeof value.Pipeline === 'function';
}

let binding: Binding | undefined;

/** Loads the native binding on first use, so the CLI and tests of pure code never need it. */
export function createPipeline(description: string): GstPipeline {
  if (!binding) {
    const loaded: unknown = createRequire(import.meta.url)('gstreamer-superficial');
    if (!isBinding(loaded)) throw new Error('gstreamer-superficial has no Pipeline class; reinstall with npm ci');
    binding = loaded;
  }
  const pipeline = new binding.Pipeline(description);
  pipeline['auto-flush-bus'] = false;
  return pipeline;
}

/** A running-time field in milliseconds. */
export function runningTimeMs(message: BusMessage): number | undefined {
  const raw = message['running-time'];
  const ns = typeof raw === 'string' ? Number(raw) : raw;
  return typeof ns === 'number' && Number.isFinite(ns) ? ns / 1e6 : undefined;
}

/** After a pipeline is dropped, the full collection that frees it runs this much later. */
const COLLECT_DELAY_MS = 2000;
let fullGc: (() => void) | undefined;
let collectTimer: NodeJS.Timeout | undefined;

/**
 * Asks for a full garbage collection shortly after a pipeline was stopped. A Pipeline
 * object is small to V8, which cannot see the GStreamer elements, buffers and queued bus
 * messages behind it: in a daemon whose JavaScript heap hardly grows, a major collection
 * that would free them may not come for hours. One collection a couple of seconds after a
 * reconnect or a still (the bus poller must have let go first) returns them.
 */
export function collectSoon(): void {
  if (!fullGc) {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc !== 'function') return;
    fullGc = () => void Reflect.apply(gc, undefined, []);
  }
  if (collectTimer) return;
  const run = fullGc;
  collectTimer = setTimeout(() => {
    collectTimer = undefined;
    run();
  }, COLLECT_DELAY_MS);
  collectTimer.unref();
}
