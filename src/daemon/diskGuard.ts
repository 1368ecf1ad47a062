import { statfs } from 'node:fs/promises';
import type { Clock, Timer } from '../clock.js';
import { formatBytes } from '../config/units.js';
import { LibcamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AuditInput } from '../store/audit.js';
import type { Pruner } from '../store/retention.js';
import type { CameraSet } from './cameraSet.js';

/** statfs is cheap; a 10 s segment at a few Mbit/s is a few MB. */
export const GUARD_INTERVAL_MS = 2000;

export interface DiskGuardOptions {
  storePath: string;
  minFreeBytes: number;
  pruner: Pruner;
  cameras: CameraSet;
  log: Logger;
  freeBytes?: () => Promise<number>;
  audit?: (input: AuditInput) => Promise<unknown>;
  clock: Clock;
}

/**
 * Keeps the store's filesystem above the minFreeBytes reserve without waiting for cron:
 * under it, prune at once. When pruning frees nothing because only held footage is left,
 * every camera stops with state error / disk-full (evidence is never deleted to make
 * room), and recording resumes by itself once the reserve is free again.
 */
export class DiskGuard {
  private timer: Timer | undefined;
  private checking: Promise<void> | undefined;
  private full = false;

  constructor(private readonly opts: DiskGuardOptions) {}

  start(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    await this.checking;
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimeout(() => {
      this.checking = this.check()
        .catch((err: unknown) => this.opts.log.error({ err }, 'disk guard check failed'))
        .finally(() => {
          this.checking = undefined;
          if (this.timer) this.schedule();
        });
    }, GUARD_INTERVAL_MS);
  }

  private async freeBytes(): Promise<number> {
    if (this.opts.freeBytes) return this.opts.freeBytes();
    const fs = await statfs(this.opts.storePath);
    return fs.bavail * fs.bsize;
  }

  private async check(): Promise<void> {
    const { minFreeBytes, pruner, cameras, log } = this.opts;
    const free = await this.freeBytes();
    if (free >= minFreeBytes) {
      if (this.full) {
        this.full = false;
        log.info({ freeBytes: free }, 'disk space is back above the reserve; recording resumes');
        await cameras.unsuspendAll('disk-full');
        await this.opts.audit?.({ action: 'disk-full.end', details: { freeBytes: free } });
      }
      return;
    }
    let deleted: number;
    try {
      deleted = (await pruner.prune(false)).deleted.segments;
    } catch (err) {
      if (err instanceof LibcamError && err.code === 'conflict') return; // a prune or fsck is running: look again soon
      throw err;
    }
    const after = await this.freeBytes();
    if (deleted > 0) log.warn({ freeBytes: after, deleted }, 'free space was under the reserve: pruned at once');
    if (after < minFreeBytes && deleted === 0 && !this.full) {
      this.full = true;
      const reason = `disk-full: the store has ${formatBytes(after)} free, under the ${formatBytes(minFreeBytes)} reserve, and nothing retention may delete is left (held footage is never deleted)`;
      log.error({ freeBytes: after, minFreeBytes }, reason);
      await cameras.suspendAll({ kind: 'disk-full', state: 'error', reason, cause: 'disk-full' });
      await this.opts.audit?.({ action: 'disk-full', details: { freeBytes: after, minFreeBytes } });
    }
  }
}
