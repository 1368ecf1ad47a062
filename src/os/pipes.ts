import { constants } from 'node:os';
import koffi from 'koffi';

/**
 * Anonymous pipes between a GStreamer element and Node: `fdsink` writes into one end from
 * its streaming thread, Node reads the other on its event loop (as a net.Socket, which
 * libuv makes non-blocking), so no libuv pool thread waits on a pull. Node has no call for
 * pipe2(2), so it goes through libc with koffi, as src/os/libc.ts does.
 */
const libc = koffi.load('libc.so.6');
const pipe2 = libc.func('int pipe2(_Out_ int *fds, int flags)');
const fcntl = libc.func('int fcntl(int fd, int cmd, int arg)');
const closeCall = libc.func('int close(int fd)');

const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_SETPIPE_SZ = 1031;
/**
 * A pipe holds 64 KiB by default: a 1080p keyframe is bigger, so its writer would wait on
 * Node several times per keyframe. 1 MiB is what an unprivileged process may ask for.
 */
const PIPE_BYTES = 1 << 20;

export interface Pipe {
  read: number;
  write: number;
}

/**
 * A pipe whose ends are closed on exec (nothing libcamd starts inherits them) and never
 * block. That matters for the end GStreamer holds: fdsink and fdsrc wait in a GstPoll that
 * stopping the pipeline interrupts, whereas a blocking write into a full pipe would wait
 * for Node to read it — and Node's main thread is the one stopping the pipeline, so a
 * camera torn down after the event loop stalled for a second would hang libcamd for good.
 */
export function openPipe(): Pipe {
  const fds = [-1, -1];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) !== 0) {
    const n = koffi.errno();
    const code = Object.entries(constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;
    throw Object.assign(new Error(`pipe2: ${code}`), { code });
  }
  const [read, write] = fds;
  if (read === undefined || write === undefined) throw new Error('pipe2 returned no descriptors');
  fcntl(write, F_SETPIPE_SZ, PIPE_BYTES); // best effort: a smaller pipe only means more wake-ups
  return { read, write };
}

/** Closes a descriptor Node does not own as a handle (the end fdsink or fdsrc used). */
export function closeDescriptor(fd: number): void {
  closeCall(fd);
}
