import type { Logger } from '../log.js';
import type { GdpBuffer } from '../pipeline/gdp.js';
import { JPEG_RATE, JpegDecoder, type JpegHandlers } from '../pipeline/jpegDecoder.js';
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
  /** What a new decoder is fed first: stream-start, caps, segment (and a later segment). */
  private prelude: Buffer[] = [];
  private decoderFailures = 0;
  private decoderRetryAt = 0;

  constructor(
    private readonly feed: LiveFeed,
    private readonly log: Logger,
    private readonly makeDecoder: (handlers: JpegHandlers) => JpegDecoder = (handlers) => new JpegDecoder(log, handlers),
    private readonly now: () => number = Date.now,
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
      this.prelude = [prelude];
      this.decoderFailures = 0;
      this.decoderRetryAt = 0;
      this.startDecoder();
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
    if (this.hello?.type !== 'jpeg') return;
    this.prelude = [this.prelude[0] ?? Buffer.alloc(0), raw]; // a decoder started later needs the newest segment
    this.decoder?.event(raw);
  }

  frame(frame: GdpBuffer): void {
    if (this.hello?.type === 'jpeg') {
      // A decoder that failed is started again at a keyframe, waiting longer after each failure.
      if (!this.decoder && frame.keyframe && this.now() >= this.decoderRetryAt) this.startDecoder();
      this.decoder?.push(frame);
    } else if (this.init) this.mp4Frame(frame);
  }

  private startDecoder(): void {
    const decoder: JpegDecoder = this.makeDecoder({
      picture: (jpeg) => {
        if (this.decoder === decoder) this.picture(jpeg);
      },
      failed: (reason) => this.decoderFailed(decoder, reason),
    });
    this.decoder = decoder;
    try {
      decoder.start(Buffer.concat(this.prelude));
    } catch (err) {
      this.decoderFailed(decoder, err instanceof Error ? err.message : String(err));
    }
  }

  private decoderFailed(decoder: JpegDecoder, reason: string): void {
    if (this.decoder !== decoder) return;
    decoder.stop();
    this.decoder = undefined;
    this.decoderFailures += 1;
    const waitMs = Math.min(60_000, 1000 * 2 ** this.decoderFailures);
    this.decoderRetryAt = this.now() + waitMs;
    this.log.warn({ reason, retryInMs: waitMs }, 'live JPEG decoder failed; starting it again');
  }

  private reset(): void {
    this.decoder?.stop();
    this.decoder = undefined;
    this.prelude = [];
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
    // Frames were lost before this one: what follows cannot be decoded until a keyframe.
    if (frame.discont && !frame.keyframe) for (const state of this.viewers.values()) state.waitingForKey = true;
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
    this.decoderFailures = 0;
    this.lastPicture = jpeg;
    for (const viewer of this.viewers.keys()) if (viewer.backlog() <= MAX_VIEWER_BACKLOG) viewer.send(jpeg);
  }
}
