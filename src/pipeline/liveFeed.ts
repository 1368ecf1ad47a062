import { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { closeDescriptor, openPipe } from '../os/pipes.js';
import { EVENT_SEGMENT, EVENT_STREAM_START, GdpReader, type GdpBuffer } from './gdp.js';
import { LIVE_SINK, LIVE_VALVE } from './description.js';
import type { GstElement, GstPipeline } from './gst.js';

/** Who takes a camera's live frames: the live view's channel for that camera. */
export interface LiveListener {
  /**
   * The stream's format (a caps string): first, and again whenever it changes or a new run
   * starts. `prelude` is what another pipeline's gdpdepay needs before the frames: the
   * stream-start, caps and segment packets as they came (the segment may follow as an event).
   */
  caps(caps: string, prelude: Buffer): void;
  frame(frame: GdpBuffer): void;
  /** A serialised event after the caps (a segment), for a pipeline fed the packets. */
  event(raw: Buffer): void;
}

/**
 * One camera's live frames, as the recording pipeline parses them: no second connection
 * to the camera and no second copy of the recording path. The recording tail's `tee` has a
 * branch `valve ! queue ! gdppay ! fdsink`; the valve stays shut while nobody watches, so
 * the branch costs a dropped buffer reference per frame and nothing else. While someone
 * does, gdppay writes each frame with its times and keyframe flag into a pipe that Node
 * reads on its event loop. The queue is leaky: a Node that falls behind loses live frames,
 * never recording. The feed outlives the pipeline runs: each run attaches its branch.
 */
export class LiveFeed {
  private readonly listeners = new Set<LiveListener>();
  private valve: GstElement | undefined;
  private lastCaps: { caps: string; raw: Buffer } | undefined;
  private streamStart: Buffer | undefined;
  private segment: Buffer | undefined;

  constructor(
    readonly camera: string,
    private readonly log: Logger,
  ) {}

  /**
   * Connects a new pipeline's live branch (before it plays). Returns what to call once the
   * pipeline is stopped: it closes the pipe's write end, and the reader ends with it.
   * A pipeline without the branch (a test's fake) or a pipe that cannot be made leaves the
   * valve shut: recording goes on without a live picture.
   */
  attach(pipeline: GstPipeline): () => void {
    const valve = pipeline.findChild(LIVE_VALVE);
    const sink = pipeline.findChild(LIVE_SINK);
    if (!valve || !sink) return () => undefined;
    let pipe;
    try {
      pipe = openPipe();
    } catch (err) {
      this.log.warn({ err }, 'no live picture for this run: cannot make a pipe');
      return () => undefined;
    }
    const { read, write } = pipe;
    sink['fd'] = write;
    // The read end stays open until the run is over, whatever happens here: closed early,
    // fdsink's next write would fail with EPIPE, and its error would stop the recording.
    // What cannot be used is read and dropped.
    const socket = new Socket({ fd: read, readable: true, writable: false });
    const reader = new GdpReader();
    socket.on('data', (chunk: Buffer) => {
      if (this.valve !== valve) return; // what an ended or disabled run left in the pipe
      let packets;
      try {
        packets = reader.push(chunk);
      } catch (err) {
        this.log.warn({ err }, 'live branch sent something unreadable; no live picture until the next run');
        this.disable();
        return;
      }
      for (const packet of packets) {
        if (packet.kind === 'caps') this.onCaps(packet.caps, packet.raw);
        else if (packet.kind === 'buffer') this.each((listener) => listener.frame(packet));
        else this.onEvent(packet.event, packet.raw);
      }
    });
    socket.on('error', (err) => this.log.warn({ err }, 'live branch pipe failed'));
    this.valve = valve;
    this.lastCaps = undefined;
    this.streamStart = undefined;
    this.segment = undefined;
    valve['drop'] = this.listeners.size === 0;
    return () => {
      if (this.valve === valve) this.valve = undefined;
      closeDescriptor(write); // the reader sees end-of-file after what is left, then closes its end
    };
  }

  /**
   * Shuts this run's live branch for good (until the next run): its data could not be read,
   * or one of its elements failed. Recording goes on; viewers see no new frames.
   */
  disable(): void {
    if (this.valve) this.valve['drop'] = true;
    this.valve = undefined;
  }

  /**
   * Lets EOS through the branch: the recorder calls it just before it sends EOS to stop a
   * run, since a pipeline ends only when every sink has EOS, and the shut valve drops it.
   * (The valve drops everything while shut, events too: passing sticky events alone made
   * gdppay queue them for a first buffer that never came, and crashed libcamd.)
   */
  openForEos(): void {
    if (this.valve) this.valve['drop'] = false;
  }

  /** Calls every listener; one that throws is logged and does not keep the others from frames. */
  private each(call: (listener: LiveListener) => void): void {
    for (const listener of this.listeners) {
      try {
        call(listener);
      } catch (err) {
        this.log.error({ err }, 'live view listener failed');
      }
    }
  }

  /** Starts taking frames: the valve opens with the first listener. Returns how to stop. */
  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    if (this.lastCaps) listener.caps(this.lastCaps.caps, this.prelude(this.lastCaps.raw));
    this.setOpen(true);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.setOpen(false);
    };
  }

  /** Live view tiles watching now, as their channel counts them (status shows it). */
  viewers = 0;

  private setOpen(open: boolean): void {
    if (this.valve) this.valve['drop'] = !open;
  }

  private onCaps(caps: string, raw: Buffer): void {
    if (this.lastCaps?.caps === caps) return; // the valve passes the same caps again on each opening
    this.lastCaps = { caps, raw };
    const prelude = this.prelude(raw);
    this.each((listener) => listener.caps(caps, prelude));
  }

  private prelude(caps: Buffer): Buffer {
    return Buffer.concat([this.streamStart, caps, this.segment].filter((b): b is Buffer => b !== undefined));
  }

  /** Keeps the sticky events a late decoder needs; passes a segment on to those already fed. */
  private onEvent(event: number, raw: Buffer): void {
    if (event === EVENT_STREAM_START) this.streamStart = raw;
    else if (event === EVENT_SEGMENT) {
      if (this.segment?.equals(raw)) return; // passed again on each opening of the valve
      this.segment = raw;
      this.each((listener) => listener.event(raw));
    }
  }
}
