import { performance } from 'node:perf_hooks';
import type { GstElement } from './gst.js';
import type { AccessUnit } from './rtpDepay.js';
import type { RtspSession } from './rtspClient.js';

/** A camera clock this far from arrival (ahead or behind) has stepped: times start over from arrival. */
const RESYNC_MS = 1000;
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
 * jitter through. The spacing must stay that of
 * the camera: h264parse extrapolates decoding times from it, and splitmuxsink stops the
 * recording ("Queued GOP time is negative") when a frame's time falls behind them —
 * seen when frames were timed at arrival after a busy start-up.
 *
 * A camera whose clock steps (an hour ahead, ten seconds back: seen with NTP on cameras)
 * is timed from arrival again at once, so footage is never dated in the future and never
 * runs backwards: a frame later in RTP time is never earlier in recording time.
 */
export class FrameTiming {
  private offset: number | undefined;
  private lastMedia = -Infinity;
  private lastPts = -Infinity;
  /** Steps of the camera's clock seen (re-timed from arrival). */
  steps = 0;

  constructor(private readonly clockRate: number) {}

  /** The time of a frame with this (unwrapped) RTP time that arrived at `arrival` ms. */
  ptsMs(rtpTime: number, arrival: number): number {
    const media = (rtpTime * 1000) / this.clockRate;
    if (this.offset === undefined) this.offset = arrival - media;
    const late = arrival - (media + this.offset);
    if (Math.abs(late) > RESYNC_MS) {
      if (this.lastPts !== -Infinity) this.steps += 1;
      this.offset = arrival - media;
    } else {
      this.offset += Math.max(-MAX_FOLLOW_MS, Math.min(MAX_FOLLOW_MS, late * FOLLOW_SHARE));
    }
    let pts = media + this.offset;
    const forward = media > this.lastMedia;
    if (forward && pts <= this.lastPts) pts = this.lastPts + 1;
    if (forward) this.lastMedia = media;
    if (pts > this.lastPts) this.lastPts = pts;
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
