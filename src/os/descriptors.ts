import { constants } from 'node:os';
import koffi from 'koffi';

/**
 * Passing an open file from libcamd to the CLI over their Unix socket (SCM_RIGHTS), and
 * copying it in the kernel (copy_file_range): an export's segments and clips reach the
 * bundle without passing through either process, as `cp` copies. Node has no call for
 * either, so they go through libc with koffi, as src/os/libc.ts does. The descriptor passed
 * is read-only and names one file of the bundle being written: it gives the CLI's account
 * those bytes and nothing else (its own permissions still apply to any other file).
 *
 * Layouts are those of 64-bit Linux (x86-64, arm64): struct msghdr is 56 bytes, iovec 16,
 * cmsghdr 16 before its data.
 */
const libc = koffi.load('libc.so.6');
const sendmsg = libc.func('intptr_t sendmsg(int fd, void *msg, int flags)');
const recvmsg = libc.func('intptr_t recvmsg(int fd, void *msg, int flags)');
const socketCall = libc.func('int socket(int domain, int type, int protocol)');
const connectCall = libc.func('int connect(int fd, void *addr, uint32_t len)');
const setsockopt = libc.func('int setsockopt(int fd, int level, int optname, void *optval, uint32_t optlen)');
const writeCall = libc.func('intptr_t write(int fd, void *buf, size_t count)');
const closeCall = libc.func('int close(int fd)');
const copyFileRange = libc.func('intptr_t copy_file_range(int fdIn, void *offIn, int fdOut, void *offOut, size_t len, unsigned int flags)');

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
const MSG_CMSG_CLOEXEC = 0x40000000;
const MSGHDR_BYTES = 56;
const IOVEC_BYTES = 16;
const CMSG_HEADER_BYTES = 16;
/** CMSG_SPACE(sizeof(int)): room for one descriptor. */
const CMSG_SPACE_FD = 24;

/** An Error carrying the errno libc set, by name (as Node's own errors do), for errnoOf. */
function failed(what: string): Error {
  const n = koffi.errno();
  const code = Object.entries(constants.errno).find(([, v]) => v === n)?.[0] ?? `errno ${n}`;
  return Object.assign(new Error(`${what}: ${code}`), { code });
}

/**
 * Whether descriptors can be passed here: the layouts below are 64-bit Linux's. Elsewhere
 * the CLI asks for the bytes instead (export.fetch without `descriptor`).
 */
export const canPassDescriptors = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
const MSG_NOSIGNAL = 0x4000;

/** Native memory the kernel reads or writes through pointers inside another struct. */
interface Native {
  ptr: unknown;
  addr: bigint;
  bytes: Buffer;
}

function native(size: number): Native {
  const ptr: unknown = koffi.alloc('uint8_t', size);
  const addr = koffi.address(ptr);
  // koffi.view gives the allocation's bytes as an ArrayBuffer, shared with the native side.
  const bytes = Buffer.from(koffi.view(ptr, size));
  bytes.fill(0);
  return { ptr, addr, bytes };
}

/** A msghdr with one iovec over `data` and a control buffer for one descriptor. */
function message(dataBytes: number): { msg: Native; data: Native; control: Native; free: () => void } {
  const msg = native(MSGHDR_BYTES);
  const iov = native(IOVEC_BYTES);
  const data = native(dataBytes);
  const control = native(CMSG_SPACE_FD);
  iov.bytes.writeBigUInt64LE(data.addr, 0);
  iov.bytes.writeBigUInt64LE(BigInt(dataBytes), 8);
  msg.bytes.writeBigUInt64LE(iov.addr, 16); // msg_iov
  msg.bytes.writeBigUInt64LE(1n, 24); // msg_iovlen
  msg.bytes.writeBigUInt64LE(control.addr, 32); // msg_control
  msg.bytes.writeBigUInt64LE(BigInt(CMSG_SPACE_FD), 40); // msg_controllen
  return {
    msg,
    data,
    control,
    free: () => {
      for (const n of [msg, iov, data, control]) koffi.free(n.ptr);
    },
  };
}

/**
 * Sends `line` with the descriptor `fd` attached, in one sendmsg on the connected socket
 * `socketFd`. Returns the bytes the kernel took (the whole line, or less: then the
 * connection must be cut), -1 when it took nothing.
 */
export function sendWithDescriptor(socketFd: number, line: Buffer, fd: number): number {
  if (!canPassDescriptors) return -1;
  const m = message(line.length);
  try {
    line.copy(m.data.bytes);
    m.control.bytes.writeBigUInt64LE(BigInt(CMSG_HEADER_BYTES + 4), 0); // CMSG_LEN(sizeof(int))
    m.control.bytes.writeInt32LE(SOL_SOCKET, 8);
    m.control.bytes.writeInt32LE(SCM_RIGHTS, 12);
    m.control.bytes.writeInt32LE(fd, 16);
    for (;;) {
      const sent: unknown = sendmsg(socketFd, m.msg.ptr, MSG_NOSIGNAL);
      if (sent === -1 && koffi.errno() === constants.errno.EINTR) continue;
      return typeof sent === 'number' ? sent : -1;
    }
  } finally {
    m.free();
  }
}

/** A blocking Unix socket of the CLI's own, for the one request whose reply carries a descriptor. */
export class DescriptorSocket {
  private constructor(private readonly fd: number) {}

  /** Connects to `path`; reads and writes give up after `timeoutMs`. */
  static connect(path: string, timeoutMs: number): DescriptorSocket {
    if (!canPassDescriptors) throw new Error(`descriptors cannot be passed on ${process.platform}/${process.arch}`);
    if (Buffer.byteLength(path) > 107) throw new Error(`socket path too long: ${path}`);
    const address = Buffer.alloc(110);
    address.writeUInt16LE(AF_UNIX, 0);
    address.write(path, 2);
    const timeout = Buffer.alloc(16);
    timeout.writeBigInt64LE(BigInt(Math.floor(timeoutMs / 1000)), 0);
    timeout.writeBigInt64LE(BigInt((timeoutMs % 1000) * 1000), 8);
    const fd: unknown = socketCall(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (typeof fd !== 'number' || fd < 0) throw failed('socket(AF_UNIX)');
    // Without the timeouts a hung libcamd would hold the CLI for ever: no timeouts, no socket.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16) !== 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeout, 16) !== 0) {
      const err = failed('setsockopt(SO_RCVTIMEO)');
      closeCall(fd);
      throw err;
    }
    for (;;) {
      if (connectCall(fd, address, 2 + Buffer.byteLength(path) + 1) === 0) break;
      const errno = koffi.errno();
      if (errno === constants.errno.EINTR) continue;
      if (errno === constants.errno.EISCONN) break; // the interrupted connect went through
      const err = failed(`connect(${path})`);
      closeCall(fd);
      throw err;
    }
    return new DescriptorSocket(fd);
  }

  write(text: string): void {
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length; ) {
      const n: unknown = writeCall(this.fd, bytes.subarray(at), bytes.length - at);
      if (typeof n !== 'number' || n <= 0) {
        if (koffi.errno() === constants.errno.EINTR) continue;
        throw failed('write to libcamd');
      }
      at += n;
    }
  }

  /** The first line of the reply, and the descriptor that came with it (if any). */
  readLine(maxBytes = 1 << 20): { line: string; fd: number | null } {
    let text = Buffer.alloc(0);
    let passed: number | null = null;
    const m = message(64 * 1024);
    try {
      for (;;) {
        m.msg.bytes.writeBigUInt64LE(BigInt(CMSG_SPACE_FD), 40);
        m.control.bytes.fill(0);
        const n: unknown = recvmsg(this.fd, m.msg.ptr, MSG_CMSG_CLOEXEC);
        if (typeof n !== 'number' || n < 0) {
          if (koffi.errno() === constants.errno.EINTR) continue; // a signal came first: ask again
          throw failed('reading libcamd’s answer');
        }
        if (m.control.bytes.readBigUInt64LE(0) >= BigInt(CMSG_HEADER_BYTES + 4) && m.control.bytes.readInt32LE(8) === SOL_SOCKET && m.control.bytes.readInt32LE(12) === SCM_RIGHTS) {
          if (passed !== null) closeCall(passed); // one descriptor is asked for: a second replaces nothing
          passed = m.control.bytes.readInt32LE(16);
        }
        if (n === 0) break;
        text = Buffer.concat([text, Buffer.from(m.data.bytes.subarray(0, n))]);
        if (text.includes(10) || text.length > maxBytes) break;
      }
    } catch (err) {
      if (passed !== null) closeCall(passed);
      throw err;
    } finally {
      m.free();
    }
    const nl = text.indexOf(10);
    return { line: (nl === -1 ? text : text.subarray(0, nl)).toString('utf8'), fd: passed };
  }

  close(): void {
    closeCall(this.fd);
  }
}

/** copy_file_range(2) of up to `bytes` from `fromFd`'s position to `toFd`'s, in the kernel; returns what it copied (0 at the end, -1 when it cannot here). */
export function copyInKernel(fromFd: number, toFd: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // On a thread of koffi's own: the event loop goes on while the kernel copies.
    copyFileRange.async(fromFd, null, toFd, null, bytes, 0, (err: unknown, n: unknown) => {
      if (err) reject(err instanceof Error ? err : new Error('copy_file_range failed in koffi'));
      else resolve(typeof n === 'number' ? n : -1);
    });
  });
}

/** Closes a descriptor received with `readLine`. */
export function closeDescriptor(fd: number): void {
  closeCall(fd);
}
