import { performance } from 'node:perf_hooks';
import type { GstElement } from './gst.js';
import type { AccessUnit } from './rtpDepay.js';
import type { RtspSession } from './rtspClient.js';

/** A frame dated this much later than it arrived: the camera's clock stepped forward. */
const RESYNC_MS = 1000;
/** A frame this far behind the latest in RTP time is a step back (B-frames reorder by less). */
const STEP_BACK_MS = 300;
/** Frames arriving over a second late for this long: the camera's clock stepped back slowly, not a stall. */
const LATE_FOR_MS = 3000;
/** The share of the difference from arrival that each frame's time moves by. */
const FOLLOW_SHARE = 1 / 256;
/** The most one frame's time moves from the camera's spacing (a clock 1 % off moves 0.67 ms a frame at 15 fps). */
const MAX_FOLLOW_MS = 0.5;

/**
 * Frame times from the camera's RTP clock, held to when frames arrive, in milliseconds
 * from `origin` (the pipeline's start: buffer times are its running time).
 *
 * RTP timestamps give the frames' spacing; arrival (which jitters with the network and
 * with Node's event loop: a busy moment delivers several frames at once) only pulls the
 * times along, a 256th of the difference per frame and never more than half a
 * millisecond, which follows a camera clock that drifts from this box's without letting
 * jitter through. The spacing must stay the camera's: h264parse and splitmuxsink reject
 * frames whose times collapse ("Queued GOP time is negative" after a busy start-up
 * delivered a burst timed at arrival).
 *
 * A camera whose clock steps (an hour ahead, ten seconds back: seen with NTP on cameras)
 * is timed from arrival again at once: a frame that would be dated over a second after it
 * arrived, or one 300 ms or more behind the latest in RTP time. Frames that arrive late in
 * a burst (a stall of the network or of the event loop) are not a step: they catch up, and
 * only lateness that lasts 3 s re-times. Footage is never dated in the future, and a frame
 * later in RTP time is never earlier in recording time; a re-timed frame is never earlier
 * than the one before it.
 */
export class FrameTiming {
  private offset = 0;
  private started = false;
  private lastMedia = -Infinity;
  private lastPts = -Infinity;
  private lateSince: number | undefined;
  /** Steps of the camera's clock seen (re-timed from arrival). */
  steps = 0;

  constructor(private readonly clockRate: number) {}

  /** The time of a frame with this (unwrapped) RTP time that arrived at `arrival` ms. */
  ptsMs(rtpTime: number, arrival: number): number {
    const media = (rtpTime * 1000) / this.clockRate;
    if (!this.started) {
      this.started = true;
      return this.retime(media, arrival);
    }
    const late = arrival - (media + this.offset);
    if (late > RESYNC_MS) this.lateSince ??= arrival;
    else this.lateSince = undefined;
    const stepped = media < this.lastMedia - STEP_BACK_MS || late < -RESYNC_MS || (this.lateSince !== undefined && arrival - this.lateSince >= LATE_FOR_MS);
    if (stepped) {
      this.steps += 1;
      return this.retime(media, arrival);
    }
    this.offset += Math.max(-MAX_FOLLOW_MS, Math.min(MAX_FOLLOW_MS, late * FOLLOW_SHARE));
    let pts = media + this.offset;
    const forward = media > this.lastMedia;
    if (forward && pts <= this.lastPts) pts = this.lastPts + 1;
    if (forward) this.lastMedia = media;
    if (pts > this.lastPts) this.lastPts = pts;
    return pts;
  }

  /** Times this frame at its arrival (never before the frame before it) and the RTP clock from it. */
  private retime(media: number, arrival: number): number {
    const pts = Math.max(arrival, this.lastPts + 1);
    this.offset = pts - media;
    this.lastMedia = media;
    this.lastPts = pts;
    this.lateSince = undefined;
    return pts;
  }
}

interface AppSrc {
  push(data: Buffer, pts: Buffer): void;
}

function isAppSrc(element: GstElement): element is GstElement & AppSrc {
  return typeof element['push'] === 'function';
}

/**
 * Plays `session` into the pipeline's appsrc: access units from the first keyframe on,
 * each with its time. `ended` is told once why the stream ended (the camera closed the
 * connection, a keep-alive went unanswered, no frame for `stallMs`).
 */
export async function feedPipeline(session: RtspSession, element: GstElement, stallMs: number, ended: (error: Error) => void): Promise<void> {
  if (!isAppSrc(element)) throw new Error('the pipeline has no appsrc to feed');
  const appsrc = element;
  const timing = new FrameTiming(session.clockRate);
  const origin = performance.now();
  const pts = Buffer.alloc(8);
  let started = false;
  await session.play({
    unit(unit: AccessUnit): void {
      if (!started) {
        if (!unit.keyframe) return; // nothing decodes before the first keyframe
        started = true;
        // Video flows: from now on stallMs without a frame is a lost camera. (Not before:
        // a camera slow to send its first keyframe is judged by the recorder's own watchdog.)
        session.stallAfter(stallMs);
      }
      const ms = timing.ptsMs(unit.rtpTime, performance.now() - origin);
      pts.writeBigUInt64BE(BigInt(Math.max(0, Math.round(ms * 1e6))));
      appsrc.push(unit.data, pts);
    },
    end: ended,
  });
}
