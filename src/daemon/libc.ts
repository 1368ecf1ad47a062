import koffi from 'koffi';

/**
 * The two things libcamd asks of the kernel that Node has no call for, through libc with
 * koffi (a maintained FFI that ships prebuilt binaries for each platform, so nothing of
 * ours is compiled): whether the clock is synchronised, and (issue 10) who is on the other
 * end of a Unix socket.
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
