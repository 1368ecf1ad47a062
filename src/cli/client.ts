import { connect, type Socket } from 'node:net';
import { LibcamError, errnoOf, isErrorCode } from '../errors.js';
import { DescriptorSocket, closeDescriptor } from '../os/descriptors.js';
import type { FetchHeader, MethodName, Methods, Reply, Request } from '../protocol.js';

export const DEFAULT_SOCKET = '/run/libcam/libcam.sock';

function unreachable(path: string, err: unknown): LibcamError {
  const errno = errnoOf(err);
  const hint =
    errno === 'EACCES'
      ? `permission denied: is your account in the socket's group (libcam-staff, unless socket.group says otherwise)?`
      : errno === 'ENOENT'
        ? 'no socket there: is libcamd running (systemctl status libcamd)? Use --socket or $LIBCAM_SOCKET for another path'
        : `${errno ?? String(err)}: is libcamd running (systemctl status libcamd)?`;
  return new LibcamError('unavailable', `cannot reach libcamd at ${path}: ${hint}`, { socket: path, errno });
}

function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'id' in value && ('ok' in value || 'progress' in value);
}

/**
 * One line from libcamd: a progress report or a result; its error thrown as a LibcamError
 * with the daemon's code; undefined for a line that is no reply.
 */
function readReply(line: string): { progress: unknown } | { result: unknown } | undefined {
  let reply: unknown;
  try {
    reply = JSON.parse(line);
  } catch {
    throw new LibcamError('internal', `libcamd sent a line that is not JSON: ${line.slice(0, 200)}`);
  }
  if (!isReply(reply)) return undefined;
  if ('progress' in reply) return { progress: reply.progress };
  if (reply.ok) return { result: reply.result };
  const { code, message, details } = reply.error;
  throw new LibcamError(isErrorCode(code) ? code : 'internal', message, details);
}

/** One request over the control socket; progress lines go to `onProgress`. */
/** Settles a request once: the first outcome closes its connection and wins, later ones are dropped. */
function settleOnce(socket: Socket): (fn: () => void) => void {
  let settled = false;
  return (fn) => {
    if (settled) return;
    settled = true;
    socket.destroy();
    fn();
  };
}

export class Client {
  private nextId = 1;

  constructor(
    readonly socketPath: string,
    /** Longest silence from libcamd before the CLI gives up. */
    private readonly timeoutMs = 120_000,
  ) {}

  call<M extends MethodName>(
    method: M,
    params: Methods[M]['params'],
    onProgress?: (data: unknown) => void,
  ): Promise<Methods[M]['result']> {
    // The daemon answers with the result type of the shared protocol module; this is the
    // one place where the socket's JSON is taken as that type.
    // eslint-disable-next-line @typescript-eslint/consistent-type-assertions
    return this.send(method, params, onProgress) as Promise<Methods[M]['result']>;
  }

  /** Sends any method name: also used to show how the daemon answers what it does not know. */
  send(method: string, params: object, onProgress?: (data: unknown) => void): Promise<unknown> {
    // Who is asking is not said here: libcamd asks the kernel.
    const request: Request = { id: this.nextId++, method, params: { ...params } };
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      let buffer = '';
      const settle = settleOnce(socket);
      socket.setEncoding('utf8');
      // A daemon that takes a request and never answers must not hold the CLI for ever; a
      // long operation keeps the connection alive with progress lines.
      socket.setTimeout(this.timeoutMs, () =>
        settle(() => reject(new LibcamError('unavailable', `libcamd at ${this.socketPath} did not answer within ${this.timeoutMs / 1000} s: it may be hung (journalctl -u libcamd)`))),
      );
      let connected = false;
      let failure: Error | undefined;
      socket.once('connect', () => {
        connected = true;
        socket.write(`${JSON.stringify(request)}\n`);
      });
      // An error once connected (a write to a connection libcamd is closing) waits for the
      // close: libcamd may have said why in a line that is still to be read.
      socket.on('error', (err) => {
        if (!connected) settle(() => reject(unreachable(this.socketPath, err)));
        else failure = err;
      });
      socket.on('close', () =>
        settle(() =>
          reject(new LibcamError('unavailable', `libcamd at ${this.socketPath} closed the connection without answering${failure ? ` (${failure.message})` : ''}`)),
        ),
      );
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          let reply: ReturnType<typeof readReply>;
          try {
            reply = readReply(line);
          } catch (err) {
            settle(() => reject(err instanceof Error ? err : new Error(String(err))));
            return;
          }
          if (!reply) continue;
          if ('progress' in reply) onProgress?.(reply.progress);
          else {
            const { result } = reply;
            settle(() => resolve(result));
          }
        }
      });
    });
  }

  /**
   * A stored file of an export as a read-only descriptor libcamd passes with its header
   * (export.fetch with `descriptor`), for the caller to copy in the kernel and close. A
   * blocking exchange on a socket of its own: it takes milliseconds, and only the bundle
   * writer calls it.
   */
  fetchDescriptor(params: { request: string; path: string }): { header: FetchHeader; fd: number } {
    const request: Request = { id: this.nextId++, method: 'export.fetch', params: { ...params, descriptor: true } };
    let socket: DescriptorSocket;
    try {
      socket = DescriptorSocket.connect(this.socketPath, this.timeoutMs);
    } catch (err) {
      throw unreachable(this.socketPath, err);
    }
    let answer: { line: string; fd: number | null };
    try {
      socket.write(`${JSON.stringify(request)}\n`);
      answer = socket.readLine();
    } catch (err) {
      throw new LibcamError('unavailable', `libcamd at ${this.socketPath} did not send ${params.path}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      socket.close();
    }
    const { line, fd } = answer;
    const drop = (): void => {
      if (fd !== null) closeDescriptor(fd);
    };
    let reply: ReturnType<typeof readReply>;
    try {
      reply = readReply(line);
    } catch (err) {
      drop();
      throw err;
    }
    if (!reply || 'progress' in reply) {
      drop();
      throw new LibcamError('internal', `libcamd answered ${params.path} with something else: ${line.slice(0, 200)}`);
    }
    // The header's shape is the shared protocol's FetchHeader.
    // eslint-disable-next-line @typescript-eslint/consistent-type-assertions
    const header = reply.result as FetchHeader;
    if (fd === null || header.descriptor !== true) {
      drop();
      throw new LibcamError('internal', `libcamd answered ${params.path} without its descriptor`);
    }
    return { header, fd };
  }

  /**
   * A file from libcamd (export.fetch): its header line, then exactly `bytes` raw bytes,
   * handed to `write` in order and no faster than it takes them. Rejects when the
   * connection ends before the last byte.
   */
  download(params: Methods['export.fetch']['params'], write: (chunk: Buffer) => Promise<void>): Promise<FetchHeader> {
    const request: Request = { id: this.nextId++, method: 'export.fetch', params: { ...params } };
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      const settle = settleOnce(socket);
      let pending = Buffer.alloc(0);
      let header: FetchHeader | undefined;
      let received = 0;
      let writing: Promise<void> = Promise.resolve();
      socket.setTimeout(this.timeoutMs, () => settle(() => reject(new LibcamError('unavailable', `libcamd at ${this.socketPath} sent nothing for ${this.timeoutMs / 1000} s while sending ${params.path}`))));
      let connected = false;
      socket.once('connect', () => {
        connected = true;
        socket.write(`${JSON.stringify(request)}\n`);
      });
      socket.on('error', (err) => {
        if (!connected) settle(() => reject(unreachable(this.socketPath, err)));
      });
      socket.on('close', () => {
        void writing.then(() =>
          settle(() => reject(new LibcamError('io', header ? `libcamd ended ${params.path} after ${received} of ${header.bytes} bytes` : `libcamd at ${this.socketPath} closed the connection without answering`))),
        );
      });
      const take = (chunk: Buffer, h: FetchHeader): void => {
        if (chunk.length === 0) return;
        received += chunk.length;
        if (received > h.bytes) return settle(() => reject(new LibcamError('io', `libcamd sent more of ${params.path} than the ${h.bytes} bytes it announced`)));
        socket.pause();
        writing = writing
          .then(() => write(chunk))
          .then(
            () => {
              if (received === h.bytes) settle(() => resolve(h));
              else socket.resume();
            },
            (err: unknown) => settle(() => reject(err instanceof Error ? err : new Error(String(err)))),
          );
      };
      socket.on('data', (chunk: Buffer) => {
        if (header) return take(chunk, header);
        pending = Buffer.concat([pending, chunk]);
        let nl: number;
        while (!header && (nl = pending.indexOf(10)) !== -1) {
          const line = pending.subarray(0, nl).toString('utf8');
          pending = pending.subarray(nl + 1);
          let reply: ReturnType<typeof readReply>;
          try {
            reply = readReply(line);
          } catch (err) {
            return settle(() => reject(err instanceof Error ? err : new Error(String(err))));
          }
          if (!reply || 'progress' in reply) continue;
          // The header's shape is the shared protocol's FetchHeader.
          // eslint-disable-next-line @typescript-eslint/consistent-type-assertions
          const h = reply.result as FetchHeader;
          header = h;
          if (h.bytes === 0) return settle(() => resolve(h));
          take(pending, h);
        }
      });
    });
  }
}
