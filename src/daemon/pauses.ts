import type { Clock, Timer } from '../clock.js';
import { formatDuration, parseDuration } from '../config/units.js';
import { LibcamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PauseInfo, PauseParams, PauseResult, ResumeParams } from '../protocol.js';
import type { AuditActor, AuditInput } from '../store/audit.js';
import type { IndexDb } from '../store/indexDb.js';
import { requireCamera } from './cameraName.js';
import type { CameraSet } from './cameraSet.js';

export type PauseReason = 'maintenance' | 'privacy';

interface PauseRecord {
  camera: string;
  reason: PauseReason;
  since: number;
  until: number;
  by: string;
  note: string | null;
}

export interface PausesOptions {
  index: IndexDb;
  cameras: CameraSet;
  names: readonly string[];
  maxDurationMs: number;
  maxDurationText: string;
  audit: (input: AuditInput) => Promise<unknown>;
  log: Logger;
  clock: Clock;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Maintenance and privacy pauses (seed §4, DESIGN.md): deliberate, visible, bounded and
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

  async info(camera: string): Promise<PauseInfo | null> {
    const r = await this.records.get(camera);
    return r ? { reason: r.reason, until: iso(r.until), by: r.by, note: r.note } : null;
  }

  private targets(params: { camera?: string | undefined; all?: boolean | undefined }): string[] {
    if (params.all === true && params.camera !== undefined) throw new LibcamError('usage', 'give --camera C or --all, not both', { flag: '--all' });
    if (params.all === true) return [...this.opts.names];
    if (params.camera === undefined) throw new LibcamError('usage', 'which camera? give --camera C or --all', { flag: '--camera' });
    requireCamera(this.opts.names, params.camera);
    return [params.camera];
  }

  async pause(params: PauseParams, actor: AuditActor): Promise<PauseResult> {
    const cameras = this.targets(params);
    const ms = parseDuration(params.for);
    if (ms === undefined || ms <= 0) throw new LibcamError('usage', `--for: "${params.for}" is not a duration (30s, 15m, 2h)`, { flag: '--for' });
    if (ms > this.opts.maxDurationMs) {
      throw new LibcamError('invalid-input', `--for: ${params.for} is longer than pause.maxDuration (${this.opts.maxDurationText}); pause again when it ends if you must`, {
        flag: '--for',
        limit: this.opts.maxDurationText,
      });
    }
    const now = this.opts.clock.now();
    const paused: PauseResult['paused'] = [];
    for (const camera of cameras) {
      const previous = await this.records.get(camera);
      const mode = previous === undefined ? 'new' : previous.reason === params.reason ? 'extended' : 'replaced';
      const record: PauseRecord = { camera, reason: params.reason, since: previous?.since ?? now, until: now + ms, by: actor.user, note: params.note ?? null };
      await this.opts.index.db.batch([{ type: 'put', sublevel: this.records, key: camera, value: record }], { sync: true });
      await this.apply(record);
      await this.opts.audit({
        actor,
        action: 'pause',
        subject: camera,
        details: { reason: params.reason, until: iso(record.until), for: formatDuration(ms), note: record.note, mode, previous: previous ? { reason: previous.reason, until: iso(previous.until) } : null },
      });
      this.opts.log.info({ camera, reason: params.reason, until: iso(record.until), mode }, 'paused');
      paused.push({ camera, reason: params.reason, until: iso(record.until), mode });
    }
    return { paused };
  }

  async resume(params: ResumeParams, actor: AuditActor): Promise<{ resumed: string[] }> {
    const cameras = this.targets(params);
    const resumed: string[] = [];
    for (const camera of cameras) {
      if (await this.end(camera, actor, false)) resumed.push(camera);
      else if (params.all !== true) throw new LibcamError('invalid-input', `--camera: ${camera} is not paused`, { flag: '--camera' });
    }
    return { resumed };
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
    const timer = this.opts.clock.setTimeout(
      () => {
        this.end(record.camera, { user: 'libcamd', uid: null }, true).catch((err: unknown) => this.opts.log.error({ err, camera: record.camera }, 'cannot end a pause'));
      },
      Math.max(0, record.until - this.opts.clock.now()),
    );
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
