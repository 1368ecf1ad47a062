import type { GapCause } from '../store/segments.js';
import type { LiveFeed } from './liveFeed.js';

export const CAMERA_STATES = ['recording', 'connecting', 'backoff', 'paused', 'disabled', 'error'] as const;
export type CameraState = (typeof CAMERA_STATES)[number];

/** How a camera is doing. Times are UTC milliseconds. */
export interface CameraReport {
  name: string;
  state: CameraState;
  since: number;
  lastSegmentEnd: number | null;
  /** Why the camera is in `error`, `backoff` or `paused`; null otherwise. */
  reason: string | null;
  /** Every reason the camera is kept from recording now, the one shown first. */
  suspensions: { kind: SuspensionKind; reason: string }[];
  /** RTSP cameras: how RTP comes now; null for others. */
  transport: 'tcp' | 'udp' | null;
  /** Live view tiles watching it now. */
  liveViewers: number;
}

/**
 * Who stops a camera that has nothing wrong with it. Each owner adds and removes only its
 * own reason; the camera records only when no reason is left. When several apply, the
 * first in this list is what state, reason and the gap's cause show: a pause is a
 * person's decision and says more than the disk being full.
 */
export const SUSPENSION_KINDS = ['pause', 'disk-full'] as const;
export type SuspensionKind = (typeof SUSPENSION_KINDS)[number];

/** Why a camera is not recording although nothing is wrong with it. */
export interface Suspension {
  kind: SuspensionKind;
  state: 'error' | 'paused';
  reason: string;
  cause: GapCause;
}

/** What the daemon needs of one camera's recorder, whatever drives it. */
export interface CameraRuntime {
  readonly name: string;
  status(): CameraReport;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Adds (or updates) one owner's reason not to record. */
  suspend(suspension: Suspension): Promise<void>;
  /** Removes one owner's reason; recording resumes when none is left. */
  unsuspend(kind: SuspensionKind): Promise<void>;
  /** Every reason that applies now, the one shown first. */
  suspendedBy(): Suspension[];
  /** The file being recorded into now, if the camera is recording. */
  liveSegment(): { file: string; start: number } | undefined;
  /** Its live frames for the staff live view; none for a camera that is switched off. */
  readonly live?: LiveFeed;
}
