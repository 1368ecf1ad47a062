import { LibcamError } from '../errors.js';
import { collectSoon, createPipeline, type BusMessage, type GstElement } from './gst.js';

export interface Still {
  jpeg: Buffer;
  width: number;
  height: number;
  /** Where in the file the frame is, in ms from its first frame (as near as the frame rate tells). */
  offsetMs: number;
}

// decodebin picks the demuxer and the decoder (avdec_h264/avdec_h265) for what the file holds.
const DESCRIPTION =
  'filesrc name=src ! decodebin ! videoconvert ! jpegenc quality=90 ! appsink name=sink sync=false max-buffers=1 drop=false';

const SEEK_FLUSH_ACCURATE = 1 | 2; // GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE

interface Sample {
  buf: Buffer | null;
  caps: Record<string, unknown>;
}

function pull(sink: GstElement): Promise<Sample> {
  const fn = sink['pull'];
  if (typeof fn !== 'function') throw new LibcamError('internal', 'the appsink has no pull(): gstreamer-superficial changed');
  return new Promise((resolve) => {
    fn.call(sink, (buf: unknown, caps: unknown) => resolve({ buf: Buffer.isBuffer(buf) ? buf : null, caps: recordOf(caps) }));
  });
}

function recordOf(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value)) : {};
}

function fps(caps: Record<string, unknown>): number {
  const raw = caps['framerate'];
  const [n, d] = typeof raw === 'string' ? raw.split('/').map(Number) : [];
  return n !== undefined && d !== undefined && n > 0 && d > 0 ? n / d : 0;
}

/**
 * One JPEG from an MP4 file at `offsetMs` from its start. The pipeline prerolls, seeks
 * (accurate, whole seconds: what the binding takes) so the demuxer starts at the keyframe
 * before the target and the decoder drops what precedes it, then counts frames at the
 * stream's frame rate for the part of a second left. Only that GOP is decoded: the appsink
 * holds one buffer, so nothing runs ahead. A file shorter than the offset gives its last frame.
 */
export async function grabStill(file: string, offsetMs: number, timeoutMs = 20_000): Promise<Still> {
  try {
    return await grabOnce(file, offsetMs, timeoutMs);
  } catch (err) {
    // Past the end (a file still being written, whose last fragment is not out yet): the
    // second before holds the newest frame there is.
    if (err instanceof NoFrame && offsetMs >= 1000) return grabOnce(file, offsetMs - 1000, timeoutMs);
    throw err;
  }
}

class NoFrame extends LibcamError {
  constructor(file: string) {
    super('io', `${file} holds no frame at or after that time`, { file });
  }
}

async function grabOnce(file: string, offsetMs: number, timeoutMs: number): Promise<Still> {
  const pipeline = createPipeline(DESCRIPTION);
  const src = pipeline.findChild('src');
  const sink = pipeline.findChild('sink');
  if (!src || !sink) throw new LibcamError('internal', 'the still pipeline lacks its source or sink');
  src['location'] = file;
  const appsink = sink;
  const wholeSeconds = Math.floor(Math.max(0, offsetMs) / 1000);

  let fail: (err: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  let onAsyncDone: (() => void) | undefined;
  const asyncDone = (): Promise<void> => new Promise((resolve) => (onAsyncDone = resolve));
  pipeline.pollBus((message: BusMessage) => {
    if (message.type === 'error') fail(new LibcamError('io', `cannot decode ${file}: ${message.message ?? 'unknown error'}`, { file }));
    else if (message.type === 'async-done') onAsyncDone?.();
  });
  const timer = setTimeout(() => fail(new LibcamError('io', `decoding a still from ${file} took over ${timeoutMs / 1000} s`, { file })), timeoutMs);

  try {
    return await Promise.race([failed, run()]);
  } finally {
    clearTimeout(timer);
    pipeline.stop();
    collectSoon();
  }

  async function run(): Promise<Still> {
    const prerolled = asyncDone();
    pipeline.pause();
    await prerolled;
    if (wholeSeconds > 0) {
      const sought = asyncDone();
      if (!pipeline.seek(wholeSeconds, SEEK_FLUSH_ACCURATE)) throw new LibcamError('io', `cannot seek to ${wholeSeconds} s in ${file}`, { file });
      await sought;
    }
    pipeline.play();
    return framesFrom(file, appsink, wholeSeconds * 1000, offsetMs);
  }
}

async function framesFrom(file: string, sink: GstElement, firstMs: number, targetMs: number): Promise<Still> {
  let best: Still | undefined;
  for (let index = 0; ; index++) {
    const { buf, caps } = await pull(sink);
    if (!buf) break; // end of file: the last frame is as near as the file goes
    const rate = fps(caps);
    const at = rate > 0 ? firstMs + (index * 1000) / rate : firstMs;
    best = { jpeg: buf, width: Number(caps['width'] ?? 0), height: Number(caps['height'] ?? 0), offsetMs: Math.round(at) };
    if (rate === 0 || at + 1000 / rate / 2 > targetMs) break;
  }
  if (!best) throw new NoFrame(file);
  return best;
}
