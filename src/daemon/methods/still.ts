import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Serial } from '../../serial.js';
import { iso, type Clock } from '../../clock.js';
import { LibcamError } from '../../errors.js';
import { grabStill, type Still } from '../../pipeline/still.js';
import type { StillParams, StillResult } from '../../protocol.js';
import { anchorOf, auditActor, type AuditActor, type AuditEntry, type AuditInput } from '../../store/audit.js';
import type { GapEntry, SegmentEntry, SegmentStore } from '../../store/segments.js';
import type { CameraSet } from '../cameraSet.js';
import type { Handlers } from '../dispatcher.js';
import type { Outbox } from '../outbox.js';
import { requireCamera, type MethodDeps } from './context.js';

/** A requested time at most this far ahead of the clock is "now", not the future. */
const CLOCK_SLACK_MS = 1000;

export interface StillsOptions {
  store: SegmentStore;
  cameras: CameraSet;
  names: readonly string[];
  audit: (input: AuditInput) => Promise<AuditEntry>;
  outbox: Outbox;
  clock: Clock;
}

/**
 * `libcam still`: one JPEG from recorded footage (an access to archival data: audited and
 * notified to the Director, policy §3 and §5) or from what the camera is sending now (live:
 * audited). Stills are taken one at a time, so a burst of requests cannot take every
 * decoder thread from the recorders.
 */
export class Stills {
  /** One still at a time. */
  private readonly queue = new Serial();
  private readonly now: () => number;

  constructor(private readonly opts: StillsOptions) {
    this.now = () => opts.clock.now();
  }

  take(params: StillParams, actor: AuditActor): Promise<StillResult> {
    return this.queue.run(() => this.takeNow(params, actor));
  }

  private async takeNow(params: StillParams, actor: AuditActor): Promise<StillResult> {
    const { camera } = params;
    requireCamera(this.opts.names, camera);
    if (params.at === 'now') return this.live(params, actor);
    const at = Date.parse(params.at);
    if (!Number.isFinite(at)) throw new LibcamError('usage', `--at: "${params.at}" is not an ISO 8601 time`, { flag: '--at', value: params.at });
    const now = this.now();
    if (at > now + CLOCK_SLACK_MS) {
      const { before } = await this.opts.store.around(camera, now);
      const newest = before ? `; the newest footage of ${camera} ends at ${iso(before.end)}` : '';
      throw new LibcamError('invalid-input', `--at: ${iso(at)} is in the future (now is ${iso(now)})${newest}; use --at now for the live picture`, {
        flag: '--at',
        value: params.at,
      });
    }
    const found = await this.opts.store.around(camera, at);
    const segment = found.holding;
    // The last seconds are in the file being recorded, not yet a segment of the index.
    const open = segment ? undefined : this.opts.cameras.runtime(camera)?.liveSegment();
    let still: Still;
    let start: number;
    if (segment) {
      still = await this.opts.store.reading(segment, (path) => grabStill(path, at - segment.start));
      start = segment.start;
    } else if (open && at >= open.start) {
      still = await grabStill(open.file, at - open.start);
      start = open.start;
    } else {
      throw noFootage(camera, at, found);
    }
    const frameAt = start + still.offsetMs;
    const digest = sha256(still.jpeg);
    const entry = await this.opts.audit({
      actor,
      action: 'footage.still',
      purpose: params.purpose,
      subject: `${camera} ${iso(frameAt)}`,
      details: {
        camera,
        requested: iso(at),
        frameAt: iso(frameAt),
        segment: segment ? { start: iso(segment.start), sha256: segment.sha256 } : { start: iso(start), sha256: null, recording: true },
        sha256: digest,
      },
    });
    const notification = await this.opts.outbox.enqueue(
      `libcam: recorded footage of ${camera} was accessed (${params.purpose})`,
      directorText({ actor, camera, frameAt, purpose: params.purpose, auditSeq: entry.seq, at: entry.at, anchor: anchorOf(entry) }),
    );
    return result(params, still, frameAt, at, { digest, segment, auditSeq: entry.seq, notification: notification.id });
  }

  /**
   * The newest frame of the file the camera is recording into: what it shows now. At a
   * segment boundary that file may have just been closed and moved, or the new one may not
   * hold a fragment yet: then the newest frame of the segment just indexed stands in.
   */
  private async live(params: StillParams, actor: AuditActor): Promise<StillResult> {
    const { camera } = params;
    const now = this.now();
    const runtime = this.opts.cameras.runtime(camera);
    const open = runtime?.liveSegment();
    if (!open) {
      const state = runtime?.status();
      throw new LibcamError('conflict', `${camera} is not recording now (state ${state?.state ?? 'unknown'}${state?.reason ? `: ${state.reason}` : ''}); no live picture to take`, {
        camera,
      });
    }
    let frame: { still: Still; start: number };
    try {
      frame = { still: await grabStill(open.file, now - open.start), start: open.start };
    } catch (err) {
      const { before } = await this.opts.store.around(camera, now);
      if (!before || now - before.end > 5000) throw err;
      frame = { still: await this.opts.store.reading(before, (path) => grabStill(path, before.end - before.start)), start: before.start };
    }
    const { still } = frame;
    const frameAt = frame.start + still.offsetMs;
    const digest = sha256(still.jpeg);
    const entry = await this.opts.audit({
      actor,
      action: 'live.still',
      purpose: params.purpose,
      subject: `${camera} ${iso(frameAt)}`,
      details: { camera, frameAt: iso(frameAt), sha256: digest },
    });
    return result(params, still, frameAt, now, { digest, segment: undefined, auditSeq: entry.seq, notification: null });
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function result(
  params: StillParams,
  still: Still,
  frameAt: number,
  requested: number,
  extra: { digest: string; segment: SegmentEntry | undefined; auditSeq: number; notification: string | null },
): StillResult {
  const { segment } = extra;
  return {
    camera: params.camera,
    at: iso(frameAt),
    requested: iso(requested),
    live: params.at === 'now',
    width: still.width,
    height: still.height,
    jpeg: still.jpeg.toString('base64'),
    sha256: extra.digest,
    segment: segment ? { start: iso(segment.start), end: iso(segment.end), sha256: segment.sha256 } : null,
    auditSeq: extra.auditSeq,
    notification: extra.notification,
  };
}

/** "No footage there", with what there is on either side and why there is a hole. */
function noFootage(camera: string, at: number, found: { before?: SegmentEntry; after?: SegmentEntry; gap?: GapEntry }): LibcamError {
  const { before, after, gap } = found;
  const why = gap ? ` (a ${gap.cause} gap from ${iso(gap.start)}${gap.end === null ? ', still open' : ` to ${iso(gap.end)}`})` : '';
  const near = [
    before ? `the footage before it ends at ${iso(before.end)}` : `nothing of ${camera} is recorded before it`,
    after ? `the footage after it starts at ${iso(after.start)}` : undefined,
  ]
    .filter((s) => s !== undefined)
    .join('; ');
  const oldest = !before && after ? ` (the oldest footage of ${camera} starts at ${iso(after.start)})` : '';
  return new LibcamError('not-found', `--at: no footage of ${camera} at ${iso(at)}${why}; ${near}${oldest}`, {
    flag: '--at',
    camera,
    at: iso(at),
    before: before ? iso(before.end) : null,
    after: after ? iso(after.start) : null,
    gap: gap?.cause ?? null,
  });
}

function directorText(a: { actor: AuditActor; camera: string; frameAt: number; purpose: string; auditSeq: number; at: string; anchor: string }): string {
  return [
    'Recorded footage was accessed on the library camera system (policy §3: the Director is notified whenever archival data is accessed).',
    '',
    `What:          a still image from camera "${a.camera}" recorded at ${iso(a.frameAt)}`,
    `Who:           ${a.actor.requestedBy ?? 'nobody named'} (requested by), run by the account "${a.actor.user}"`,
    `Purpose:       ${a.purpose}`,
    `When:          ${a.at}`,
    `Audit entry:   #${a.auditSeq} (check with: libcam audit list --action footage.still)`,
    `Audit head:    ${a.anchor}`,
    '               (keep it: libcam audit verify --anchor with it shows the trail was not rewritten since)',
    `Appliance:     ${hostname()}`,
    '',
    'This message was sent automatically by libcamd.',
  ].join('\n');
}

/** `libcam still`. */
export function stillMethods(d: MethodDeps): Pick<Handlers, 'still'> {
  const stills = new Stills({ store: d.store, cameras: d.cameras, names: d.names, audit: d.audit, outbox: d.outbox, clock: d.clock });
  return { still: (p, ctx) => stills.take(p, auditActor(ctx.caller, p.requestedBy.trim())) };
}
