import type { Logger } from '../log.js';
import type { GdpBuffer } from '../pipeline/gdp.js';
import { JPEG_RATE, JpegDecoder } from '../pipeline/jpegDecoder.js';
import type { LiveFeed, LiveListener } from '../pipeline/liveFeed.js';
import { h264Format, initSegment, mediaSegment, TIMESCALE } from './fmp4.js';

/** One browser tile watching a camera (a WebSocket). */
export interface LiveViewer {
  /** A text message (JSON) or a binary one (an MP4 segment, a JPEG). */
  send(data: string | Buffer): void;
  /** Bytes queued for it and not yet sent: a viewer on a slow link skips to the next keyframe. */
  backlog(): number;
}

/** What a tile is told when the picture changes kind: then MP4 segments or JPEGs follow. */
export type LiveHello =
  | { type: 'mp4'; mime: string }
  | { type: 'jpeg'; why: string; perSecond: number }
  | { type: 'unsupported'; why: string };

const MAX_VIEWER_BACKLOG = 2 << 20;
/** A frame's duration when the next frame's time does not give a sane one (a gap, a step). */
const MAX_FRAME_NS = 5_000_000_000n;
const H265_WHY =
  'This camera sends H.265, which this browser cannot play live: it shows a still picture refreshed several times a second instead.';

interface ViewerState {
  /** Nothing is sent until a keyframe: at the start, after a format change, after falling behind. */
  waitingForKey: boolean;
}

const ns90k = (ns: bigint): number => Number((ns * BigInt(TIMESCALE)) / 1_000_000_000n);

/**
 * A camera's live picture for everyone watching it: it takes frames from the camera's
 * LiveFeed while anyone watches and nothing when nobody does. H.264 goes to the browser as
 * fragmented MP4 for Media Source Extensions, made once for all viewers (an init segment,
 * then a media segment per frame; a new viewer gets the init segment and starts at the
 * next keyframe). H.265, which Chromium cannot play, goes as JPEGs from a decoder that
 * exists only while someone watches.
 */
export class LiveChannel implements LiveListener {
  private readonly viewers = new Map<LiveViewer, ViewerState>();
  private unsubscribe: (() => void) | undefined;
  private hello: LiveHello | undefined;
  // H.264
  private init: Buffer | undefined;
  private pending: GdpBuffer | undefined;
  private base: bigint | undefined;
  private sequence = 0;
  private lastDuration = TIMESCALE / 15;
  // H.265
  private decoder: JpegDecoder | undefined;
  private lastPicture: Buffer | undefined;

  constructor(
    private readonly feed: LiveFeed,
    private readonly log: Logger,
    private readonly makeDecoder: (onPicture: (jpeg: Buffer) => void) => JpegDecoder = (onPicture) => new JpegDecoder(log, onPicture),
  ) {}

  get camera(): string {
    return this.feed.camera;
  }

  get watching(): number {
    return this.viewers.size;
  }

  add(viewer: LiveViewer): void {
    this.viewers.set(viewer, { waitingForKey: true });
    this.feed.viewers = this.viewers.size;
    if (!this.unsubscribe) {
      this.unsubscribe = this.feed.subscribe(this); // calls caps() at once when the format is known
      return;
    }
    if (this.hello) viewer.send(JSON.stringify(this.hello));
    if (this.init) viewer.send(this.init);
    if (this.lastPicture) viewer.send(this.lastPicture);
  }

  remove(viewer: LiveViewer): void {
    if (!this.viewers.delete(viewer)) return;
    this.feed.viewers = this.viewers.size;
    if (this.viewers.size > 0) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.reset();
  }

  /** The stream starts or changes: a new init segment (or decoder) for everyone. */
  caps(caps: string, prelude: Buffer): void {
    this.reset();
    const format = h264Format(caps);
    if (format) {
      this.init = initSegment(format);
      this.hello = { type: 'mp4', mime: format.mime };
    } else if (/^video\/x-h265\b/.test(caps)) {
      this.hello = { type: 'jpeg', why: H265_WHY, perSecond: JPEG_RATE };
      this.decoder = this.makeDecoder((jpeg) => this.picture(jpeg));
      try {
        this.decoder.start(prelude);
      } catch (err) {
        this.log.warn({ err }, 'cannot start the live JPEG decoder');
      }
    } else {
      const kind = /^[^,]*/.exec(caps)?.[0] ?? 'unknown';
      this.hello = { type: 'unsupported', why: `the camera sends ${kind}, which the live view cannot show` };
    }
    for (const [viewer, state] of this.viewers) {
      state.waitingForKey = true;
      viewer.send(JSON.stringify(this.hello));
      if (this.init) viewer.send(this.init);
    }
  }

  event(raw: Buffer): void {
    this.decoder?.event(raw);
  }

  frame(frame: GdpBuffer): void {
    if (this.decoder) this.decoder.push(frame);
    else if (this.init) this.mp4Frame(frame);
  }

  private reset(): void {
    this.decoder?.stop();
    this.decoder = undefined;
    this.lastPicture = undefined;
    this.hello = undefined;
    this.init = undefined;
    this.pending = undefined;
    this.base = undefined;
  }

  /**
   * A frame is sent once the next one arrives: its duration is the difference of their
   * decoding times (cameras do not say how long a frame lasts).
   */
  private mp4Frame(frame: GdpBuffer): void {
    const dts = frame.dts ?? frame.pts;
    if (dts === undefined) return;
    const previous = this.pending;
    const previousDts = previous ? (previous.dts ?? previous.pts) : undefined;
    if (previous && previousDts !== undefined && dts <= previousDts) {
      // Time went back (a camera's clock, a restarted encoder): the browser's timeline
      // cannot follow, so every viewer starts over with the init segment at the next keyframe.
      this.log.info('live: the camera\'s timestamps went back; viewers start over');
      this.pending = undefined;
      this.base = undefined;
      for (const [viewer, state] of this.viewers) {
        state.waitingForKey = true;
        if (this.hello && this.init) {
          viewer.send(JSON.stringify(this.hello));
          viewer.send(this.init);
        }
      }
    } else if (previous && previousDts !== undefined) {
      const step = dts - previousDts;
      const duration = step > 0n && step <= MAX_FRAME_NS ? ns90k(step) : this.lastDuration;
      this.lastDuration = duration;
      this.send(previous, previousDts, duration);
    }
    this.pending = frame;
  }

  private send(frame: GdpBuffer, dts: bigint, duration: number): void {
    this.base ??= dts;
    const pts = frame.pts ?? dts;
    const segment = mediaSegment(++this.sequence, {
      decodeTime: ns90k(dts - this.base),
      duration,
      compositionOffset: ns90k(pts - dts),
      keyframe: frame.keyframe,
      data: frame.data,
    });
    for (const [viewer, state] of this.viewers) {
      if (viewer.backlog() > MAX_VIEWER_BACKLOG) {
        state.waitingForKey = true;
        continue;
      }
      if (state.waitingForKey && !frame.keyframe) continue;
      state.waitingForKey = false;
      viewer.send(segment);
    }
  }

  private picture(jpeg: Buffer): void {
    this.lastPicture = jpeg;
    for (const viewer of this.viewers.keys()) if (viewer.backlog() <= MAX_VIEWER_BACKLOG) viewer.send(jpeg);
  }
}
