import { iso, type Clock, type Timer } from '../clock.js';
import { formatDuration } from '../config/units.js';
import { LibcamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AuditActor, AuditInput } from '../store/audit.js';
import type { IndexDb } from '../store/indexDb.js';
import type { CameraSet } from './cameraSet.js';

export type PauseReason = 'maintenance' | 'privacy';

/** A pause in the index: times are UTC milliseconds. */
export interface PauseRecord {
  camera: string;
  reason: PauseReason;
  since: number;
  until: number;
  by: string;
  note: string | null;
}

/** What `pause` did to one camera: `mode` new, or how it changed a pause in place. */
export interface PausedCamera {
  camera: string;
  reason: PauseReason;
  until: number;
  mode: 'new' | 'extended' | 'replaced';
}

export interface PausesOptions {
  index: IndexDb;
  cameras: CameraSet;
  names: readonly string[];
  maxDurationMs: number;
  audit: (input: AuditInput) => Promise<unknown>;
  log: Logger;
  clock: Clock;
}

/**
 * Maintenance and privacy pauses (policy §4): deliberate, visible, bounded and
 * on the record. A pause suspends the camera's recorder, lives in the index so it
 * survives a restart, ends by itself at its end time, and every pause and resume —
 * manual or automatic — is an audit entry.
 */
export class Pauses {
  private readonly records;
  private readonly timers = new Map<string, Timer>();

  constructor(private readonly opts: PausesOptions) {
    this.records = opts.index.db.sublevel<string, PauseRecord>('pause', { valueEncoding: 'json' });
  }

  /** Before the cameras start: pauses that outlived a restart go on, those that ended meanwhile end. */
  async restore(): Promise<void> {
    const now = this.opts.clock.now();
    for await (const record of this.records.values()) {
      if (!this.opts.names.includes(record.camera)) continue;
      if (record.until <= now) {
        await this.end(record.camera, { user: 'libcamd', uid: null }, true);
      } else {
        await this.apply(record);
      }
    }
  }

  stop(): void {
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  async info(camera: string): Promise<PauseRecord | undefined> {
    return this.records.get(camera);
  }

  /** Pauses `cameras` for `ms` (at most pause.maxDuration); a pause in place is extended or replaced. */
  async pause(
    cameras: readonly string[],
    pause: { reason: PauseReason; ms: number; note: string | null },
    actor: AuditActor,
  ): Promise<PausedCamera[]> {
    const { ms, reason } = pause;
    if (ms > this.opts.maxDurationMs) {
      const limit = formatDuration(this.opts.maxDurationMs);
      throw new LibcamError('invalid-input', `--for: ${formatDuration(ms)} is longer than pause.maxDuration (${limit}); pause again when it ends if you must`, {
        flag: '--for',
        limit,
      });
    }
    const now = this.opts.clock.now();
    const paused: PausedCamera[] = [];
    for (const camera of cameras) {
      const previous = await this.records.get(camera);
      const mode = previous === undefined ? 'new' : previous.reason === reason ? 'extended' : 'replaced';
      const record: PauseRecord = { camera, reason, since: previous?.since ?? now, until: now + ms, by: actor.user, note: pause.note };
      await this.opts.index.db.batch([{ type: 'put', sublevel: this.records, key: camera, value: record }], { sync: true });
      await this.apply(record);
      await this.opts.audit({
        actor,
        action: 'pause',
        subject: camera,
        details: { reason, until: iso(record.until), for: formatDuration(ms), note: record.note, mode, previous: previous ? { reason: previous.reason, until: iso(previous.until) } : null },
      });
      this.opts.log.info({ camera, reason, until: iso(record.until), mode }, 'paused');
      paused.push({ camera, reason, until: record.until, mode });
    }
    return paused;
  }

  /** Ends the pauses of `cameras` now; those that were not paused are left out of the answer. */
  async resume(cameras: readonly string[], actor: AuditActor): Promise<string[]> {
    const resumed: string[] = [];
    for (const camera of cameras) if (await this.end(camera, actor, false)) resumed.push(camera);
    return resumed;
  }

  private async apply(record: PauseRecord): Promise<void> {
    const runtime = this.opts.cameras.runtime(record.camera);
    await runtime?.suspend({
      kind: 'pause',
      state: 'paused',
      reason: `paused for ${record.reason} until ${iso(record.until)} by ${record.by}${record.note ? `: ${record.note}` : ''}`,
      cause: record.reason === 'privacy' ? 'paused-privacy' : 'paused-maintenance',
    });
    this.timers.get(record.camera)?.cancel();
    // The end is a time of day on record ("until 14:00"): it follows a step of the wall clock.
    const timer = this.opts.clock.at(() => {
      this.end(record.camera, { user: 'libcamd', uid: null }, true).catch((err: unknown) => this.opts.log.error({ err, camera: record.camera }, 'cannot end a pause'));
    }, record.until);
    this.timers.set(record.camera, timer);
  }

  /** Ends a camera's pause; false when it was not paused. */
  private async end(camera: string, actor: AuditActor, automatic: boolean): Promise<boolean> {
    const record = await this.records.get(camera);
    if (!record) return false;
    this.timers.get(camera)?.cancel();
    this.timers.delete(camera);
    await this.opts.index.db.batch([{ type: 'del', sublevel: this.records, key: camera }], { sync: true });
    await this.opts.cameras.runtime(camera)?.unsuspend('pause');
    await this.opts.audit({ actor, action: 'resume', subject: camera, details: { automatic, reason: record.reason, until: iso(record.until) } });
    this.opts.log.info({ camera, automatic }, 'pause ended');
    return true;
  }
}
