import { iso, type Clock } from '../../clock.js';
import type { Approvers } from '../../evidence/approvers.js';
import type { Exports } from '../../evidence/exports.js';
import type { Incidents } from '../../evidence/incidents.js';
import type { Config } from '../../config/types.js';
import { LibcamError } from '../../errors.js';
import { MAX_HOLD_AHEAD_MS, MAX_HOLD_RANGE_MS } from '../../protocol.js';
import type { Logger } from '../../log.js';
import type { AuditEntry, AuditInput, AuditTrail } from '../../store/audit.js';
import type { Holds } from '../../store/holds.js';
import type { IndexDb } from '../../store/indexDb.js';
import type { Pruner } from '../../store/retention.js';
import type { SegmentStore } from '../../store/segments.js';
import type { CameraSet } from '../cameraSet.js';
import type { Outbox } from '../outbox.js';
import type { Pauses } from '../pauses.js';
import type { StaffAccounts } from '../../web/staff.js';

/**
 * What the socket's methods work with: the daemon's components, built and started by the
 * composition root (daemon.ts). Each module under methods/ takes these and returns its
 * handlers, converting the components' values (UTC milliseconds) to the wire's (ISO 8601)
 * as it answers.
 */
export interface MethodDeps {
  config: Config;
  clock: Clock;
  log: Logger;
  index: IndexDb;
  store: SegmentStore;
  holds: Holds;
  pruner: Pruner;
  trail: AuditTrail;
  audit: (input: AuditInput) => Promise<AuditEntry>;
  cameras: CameraSet;
  pauses: Pauses;
  outbox: Outbox;
  incidents: Incidents;
  approvers: Approvers;
  exports: Exports;
  staff: StaffAccounts;
  /** The configured camera names, in configuration order. */
  names: readonly string[];
  startedAt: number;
}

/** A time the CLI sent (ISO 8601), in UTC milliseconds; a usage error naming the flag otherwise. */
export function timeParam(value: string, flag: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new LibcamError('usage', `${flag}: "${value}" is not an ISO 8601 time`, { flag, value });
  return ms;
}

/**
 * Refuses a range for a hold or an incident that is backwards, longer than a month, or
 * reaches more than a day past now: held footage is never deleted, so a hold to 2126 would
 * in the end stop every camera for lack of space.
 */
export function checkHoldRange(from: number, to: number, now: number): void {
  if (to <= from) throw new LibcamError('invalid-input', `--to: ${iso(to)} is not after --from ${iso(from)}`, { flag: '--to' });
  if (to - from > MAX_HOLD_RANGE_MS) {
    throw new LibcamError('invalid-input', `--to: a range of at most ${MAX_HOLD_RANGE_MS / 86_400_000} days can be held at once; split it`, { flag: '--to' });
  }
  if (to > now + MAX_HOLD_AHEAD_MS) {
    throw new LibcamError('invalid-input', `--to: ${iso(to)} is more than ${MAX_HOLD_AHEAD_MS / 3_600_000} h ahead; hold live footage a day at a time`, { flag: '--to' });
  }
}

/** Refuses a camera name that is not configured, naming the flag and the cameras there are. */
export function requireCamera(cameras: readonly string[], name: string): void {
  if (!cameras.includes(name)) {
    throw new LibcamError('invalid-input', `--camera: no camera named "${name}"; configured: ${cameras.join(', ') || 'none'}`, {
      flag: '--camera',
      value: name,
      cameras,
    });
  }
}
