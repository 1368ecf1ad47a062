import { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { closeDescriptor, openPipe } from '../os/pipes.js';
import { GdpReader, type GdpBuffer } from './gdp.js';
import { collectSoon, createPipeline, type GstPipeline } from './gst.js';

/** Pictures a second at most: the live view promises at least two. */
export const JPEG_RATE = 4;
/** Tile width: a grid tile is about this wide, and a smaller JPEG is cheaper to make and send. */
const JPEG_WIDTH = 640;
/** Frames waiting for the decoder beyond this are dropped up to the next keyframe. */
const MAX_BACKLOG_BYTES = 4 << 20;

// gdpdepay restores the frames with their caps and times; the decoder runs at the stream's
// pace on one thread (a viewer must not take the cores recording needs), videorate keeps
// JPEG_RATE of its pictures, and only those are scaled and encoded.
const DESCRIPTION =
  'fdsrc name=src ! gdpdepay ! h265parse ! avdec_h265 max-threads=1 ' +
  `! videorate drop-only=true max-rate=${JPEG_RATE} ! videoscale ! video/x-raw,width=${JPEG_WIDTH},pixel-aspect-ratio=1/1 ` +
  '! videoconvert ! jpegenc quality=75 ! gdppay ! fdsink name=out sync=false';

/**
 * JPEGs from a camera's live frames, for browsers that cannot play what it sends (H.265 in
 * Chromium). The decoder is a pipeline of its own that exists only while someone watches:
 * started with the first viewer, stopped with the last. Node writes it the frames the
 * recording pipeline's live branch gave (the GDP packets as they came) through one pipe and
 * reads JPEGs back through another: no libuv pool thread waits on either.
 */
export interface JpegHandlers {
  picture(jpeg: Buffer): void;
  /** The decoder stopped by itself (its pipeline failed): it sends nothing more. */
  failed(reason: string): void;
}

export class JpegDecoder {
  private pipeline: GstPipeline | undefined;
  private input: Socket | undefined;
  private output: Socket | undefined;
  /** The pipe ends fdsrc and fdsink use: GStreamer does not close them. */
  private gstEnds: number[] = [];
  /** Dropping frames until the next keyframe: the decoder fell behind. */
  private skipping = true;

  constructor(
    private readonly log: Logger,
    private readonly handlers: JpegHandlers,
    private readonly create: (description: string) => GstPipeline = createPipeline,
  ) {}

  /** Starts decoding a stream; `prelude` is its stream-start, caps and segment packets (GDP). */
  start(prelude: Buffer): void {
    if (this.pipeline) this.stop();
    const into = openPipe();
    let out;
    let pipeline: GstPipeline;
    try {
      out = openPipe();
      pipeline = this.create(DESCRIPTION);
    } catch (err) {
      for (const fd of [into.read, into.write, out?.read, out?.write]) if (fd !== undefined) closeDescriptor(fd);
      throw err;
    }
    // From here every descriptor has an owner that stop() closes.
    this.gstEnds.push(into.read, out.write);
    const src = pipeline.findChild('src');
    const sink = pipeline.findChild('out');
    if (!src || !sink) {
      closeDescriptor(into.write);
      closeDescriptor(out.read);
      for (const fd of this.gstEnds.splice(0)) closeDescriptor(fd);
      throw new Error('the JPEG pipeline lacks its source or sink');
    }
    src['fd'] = into.read;
    sink['fd'] = out.write;
    this.input = new Socket({ fd: into.write, readable: false, writable: true });
    this.input.on('error', (err) => this.log.debug({ err }, 'JPEG decoder input closed'));
    const output = new Socket({ fd: out.read, readable: true, writable: false });
    this.output = output;
    const reader = new GdpReader();
    const fail = (reason: string): void => {
      if (this.pipeline !== pipeline) return;
      this.stop();
      this.handlers.failed(reason);
    };
    output.on('data', (chunk: Buffer) => {
      if (this.pipeline !== pipeline) return;
      let packets;
      try {
        packets = reader.push(chunk);
      } catch (err) {
        this.log.warn({ err }, 'the JPEG decoder sent something unreadable');
        return fail('the decoder sent something unreadable');
      }
      for (const packet of packets) if (packet.kind === 'buffer') this.handlers.picture(packet.data);
    });
    output.on('error', (err) => this.log.debug({ err }, 'JPEG decoder output closed'));
    pipeline.pollBus((message) => {
      if (message.type === 'error' && this.pipeline === pipeline) {
        this.log.warn({ error: message.message, debug: message.debug }, 'the live JPEG decoder failed');
        fail(message.message ?? 'the decoder failed');
      }
    });
    this.pipeline = pipeline;
    pipeline.play();
    this.skipping = true;
    this.input.write(prelude);
  }

  /** Hands on a serialised event (a new segment). */
  event(raw: Buffer): void {
    if (this.input && !this.input.destroyed) this.input.write(raw);
  }

  /** Hands on one frame; waits for a keyframe first, and again after falling behind. */
  push(frame: GdpBuffer): void {
    const input = this.input;
    if (!input || input.destroyed) return;
    if (input.writableLength > MAX_BACKLOG_BYTES) this.skipping = true;
    if (this.skipping && !frame.keyframe) return;
    this.skipping = false;
    input.write(frame.raw);
  }

  get running(): boolean {
    return this.pipeline !== undefined;
  }

  stop(): void {
    const pipeline = this.pipeline;
    this.pipeline = undefined;
    pipeline?.stop(); // its threads are done with the descriptors before they close
    // Node closes the ends it holds as sockets; the ends the pipeline used are closed here,
    // and the output's reader ends with what is left.
    this.input?.destroy();
    this.input = undefined;
    this.output?.destroy(); // nothing an old decoder left reaches the viewers
    this.output = undefined;
    for (const fd of this.gstEnds.splice(0)) closeDescriptor(fd);
    if (pipeline) collectSoon();
  }
}
