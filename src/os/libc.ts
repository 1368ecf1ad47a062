import { closeSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import koffi from 'koffi';

/**
 * What libcamd asks of the kernel that Node has no call for, through libc with koffi (a
 * maintained FFI that ships prebuilt binaries for each platform, so nothing of ours is
 * compiled and no C of ours has to be kept): whether the clock is synchronised, who is on
 * the other end of a Unix socket, and whether a file has an access control list.
 */
const libc = koffi.load('libc.so.6');

/** adjtimex(2) with modes 0 only reads: the return value is the clock's state. */
const adjtimex = libc.func('int adjtimex(void *buf)');
/** The clock is not synchronised (TIME_ERROR in <sys/timex.h>). */
const TIME_ERROR = 5;
/** struct timex is 208 bytes on 64-bit Linux; room to spare. */
const TIMEX_BYTES = 512;

/**
 * Whether the kernel considers the clock synchronised (an NTP client such as
 * systemd-timesyncd or chrony keeps it so): what `timedatectl`'s NTPSynchronized reports.
 */
export function clockSynchronised(): boolean {
  const state: unknown = adjtimex(Buffer.alloc(TIMEX_BYTES));
  return typeof state === 'number' && state >= 0 && state !== TIME_ERROR;
}

/** struct ucred from <sys/socket.h>: what SO_PEERCRED fills in. */
koffi.struct('libcam_ucred', { pid: 'int32', uid: 'uint32', gid: 'uint32' });
const getsockopt = libc.func('int getsockopt(int fd, int level, int optname, _Out_ libcam_ucred *optval, _Inout_ uint32_t *optlen)');
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * SO_PEERCRED of a connected Unix socket: the uid, gid and pid of the process that
 * connected, as the kernel recorded them at connect(2). Nothing the client sends can
 * change them. Undefined when the kernel will not say (not a Unix socket).
 */
export function peerCredentials(fd: number): PeerCredentials | undefined {
  const out: Record<string, unknown> = {};
  const length = [12];
  const rc: unknown = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, length);
  const { pid, uid, gid } = out;
  if (rc !== 0 || typeof pid !== 'number' || typeof uid !== 'number' || typeof gid !== 'number') return undefined;
  return { pid, uid, gid };
}

const fgetxattr = libc.func('intptr_t fgetxattr(int fd, const char *name, void *value, size_t size)');

/**
 * Whether an open file carries a POSIX access control list beyond its mode bits (the
 * kernel keeps one only when it names more users or groups): such a file can be readable
 * by accounts its mode does not show.
 */
export function hasAccessAcl(fd: number): boolean {
  const size: unknown = fgetxattr(fd, 'system.posix_acl_access', null, 0);
  return typeof size === 'number' && size > 0;
}

const posixFadvise = libc.func('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)');
const POSIX_FADV_WILLNEED = 3;

/**
 * Tells the kernel a file will be read soon, so it reads it ahead into the page cache in
 * the background (posix_fadvise WILLNEED): a best effort, silent when it cannot.
 */
export function willNeed(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    posixFadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
  } catch {
    // a hint only: the read that follows says what is wrong
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const POSIX_FADV_DONTNEED = 4;

/**
 * `willNeed` off the event loop: the file is opened and advised on libuv's and koffi's
 * threads, so a request that asks for read-ahead is not held up while the kernel queues it.
 */
export async function willNeedSoon(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await new Promise<void>((resolve) => {
        posixFadvise.async(handle.fd, 0, 0, POSIX_FADV_WILLNEED, () => resolve());
      });
    } finally {
      await handle.close();
    }
  } catch {
    // a hint only
  }
}

/**
 * Drops a file's clean pages from the page cache (posix_fadvise DONTNEED, after fsync), so
 * the next read comes from the disk itself: a bundle read back this way was verified where
 * it lies, not in memory. A best effort.
 */
export function dropCached(fd: number): void {
  try {
    posixFadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  } catch {
    // a hint only
  }
}
