import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LibcamError, errnoOf } from '../errors.js';

const LOCK_NAME = '.libcamd.lock';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/** Why the lock file cannot be made, in words that say what to check. */
function cannotLock(file: string, err: unknown): LibcamError {
  const errno = errnoOf(err);
  const why =
    errno === 'EROFS'
      ? "the store's filesystem is mounted read-only (EROFS): check the disk (dmesg) and remount it read-write"
      : errno === 'EACCES' || errno === 'EPERM'
        ? `permission denied (${errno}): the store folder must belong to the daemon's user`
        : errno === 'ENOSPC'
          ? "the store's filesystem is full (ENOSPC)"
          : err instanceof Error
            ? err.message
            : String(err);
  return new LibcamError('io', `cannot create the lock file ${file}: ${why}`, { file, errno }, { cause: err });
}

/**
 * One daemon per store: a lock file holding the owner's pid and socket, written aside
 * and hard-linked into place so that it never exists half-written. A lock left by a
 * daemon that died is taken over; a live owner is named.
 */
export class StoreLock {
  private readonly file: string;
  private held = false;

  constructor(
    private readonly storePath: string,
    private readonly socketPath: string,
  ) {
    this.file = join(storePath, LOCK_NAME);
  }

  acquire(): void {
    mkdirSync(this.storePath, { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const aside = `${this.file}.${process.pid}`;
      try {
        writeFileSync(aside, `${JSON.stringify({ pid: process.pid, socket: this.socketPath })}\n`, { mode: 0o600 });
      } catch (err) {
        throw cannotLock(this.file, err);
      }
      try {
        linkSync(aside, this.file);
        this.held = true;
        return;
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') throw cannotLock(this.file, err);
      } finally {
        unlinkSync(aside); // written above, so ours to remove
      }
      const owner = this.owner();
      if (owner && owner.pid !== process.pid && isRunning(owner.pid)) {
        throw new LibcamError(
          'conflict',
          `store ${this.storePath} is in use by libcamd pid ${owner.pid} (socket ${owner.socket}); stop that daemon first`,
          { store: this.storePath, pid: owner.pid, socket: owner.socket },
        );
      }
      unlinkSync(this.file); // left by a daemon that is gone
    }
    throw new LibcamError('conflict', `could not take the lock ${this.file}`);
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      unlinkSync(this.file);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  }

  private owner(): { pid: number; socket: string } | undefined {
    try {
      const data: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
      if (typeof data === 'object' && data !== null && 'pid' in data && typeof data.pid === 'number') {
        const socket = 'socket' in data && typeof data.socket === 'string' ? data.socket : 'unknown';
        return { pid: data.pid, socket };
      }
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
    }
    return undefined; // unreadable or half-written: the owner died while writing it
  }
}
