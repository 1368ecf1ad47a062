import { chmod, chown, open, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Ajv } from 'ajv';
import { LibcamError, asLibcamError, errnoOf } from '../errors.js';
import type { Logger } from '../log.js';
import { MAX_ID_LENGTH, MAX_REQUEST_BYTES, REQUEST_SCHEMA, type Caller, type Reply, type ReplyId, type Request } from '../protocol.js';
import { accountName } from './accounts.js';
import { Streamed } from './streamed.js';
import { sendWithDescriptor } from '../os/descriptors.js';
import { peerCredentials, type PeerCredentials } from '../os/libc.js';

/** What one client may take of the daemon. */
export interface SocketLimits {
  /** The longest request line. */
  maxLineBytes: number;
  /** Connections open at once, from everyone. */
  maxConnections: number;
  /** Connections open at once from one uid (the kernel's, not the client's word). */
  maxPerUid: number;
  /** Requests being answered at once, from everyone; beyond it a request is answered `busy`. */
  maxInFlight: number;
  /** A request line must be complete this long after its first byte arrived. */
  lineMs: number;
  /** A connection with nothing happening on it is closed. */
  idleMs: number;
  /** No connection stays open longer (closed between requests). */
  lifetimeMs: number;
}

export const SOCKET_LIMITS: SocketLimits = {
  maxLineBytes: MAX_REQUEST_BYTES,
  maxConnections: 64,
  maxPerUid: 8,
  maxInFlight: 16,
  lineMs: 5000,
  idleMs: 60_000,
  lifetimeMs: 30 * 60_000,
};

export interface SocketServerOptions {
  path: string;
  log: Logger;
  /** Answers one well-formed request; throws LibcamError for an error reply. */
  handle: (request: Request, caller: Caller, progress: (data: unknown) => void) => Promise<unknown>;
  limits?: Partial<SocketLimits>;
  /** Who is at the other end (SO_PEERCRED unless a test says otherwise). */
  peer?: (socket: Socket) => PeerCredentials | undefined;
}

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
const validateRequest = ajv.compile<Request>(REQUEST_SCHEMA);

/** Tells whether something is answering on a Unix socket path. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Resolves on 'drain', or when the socket closes first (a destroyed socket never drains). */
function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/** The file descriptor under a net.Socket (Node keeps it on the private handle). */
function fdOf(socket: Socket): number | undefined {
  const handle: unknown = Reflect.get(socket, '_handle');
  const fd: unknown = typeof handle === 'object' && handle !== null ? Reflect.get(handle, 'fd') : undefined;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function kernelPeer(socket: Socket): PeerCredentials | undefined {
  const fd = fdOf(socket);
  return fd === undefined ? undefined : peerCredentials(fd);
}

/** How long a refused connection waits for the client's request before it is told why. */
const REFUSE_AFTER_MS = 500;

const line = (reply: Reply): string => `${JSON.stringify(reply)}\n`;

/** An id that can be echoed exactly: a short string or a safe integer. */
function isReplyId(id: unknown): id is string | number {
  return (typeof id === 'string' && id.length <= MAX_ID_LENGTH) || (typeof id === 'number' && Number.isSafeInteger(id));
}

/**
 * The control socket: newline-delimited JSON, mode 0660, the staff group. Who is asking
 * comes from the kernel (SO_PEERCRED) when the connection is accepted. No client can
 * starve the others or the recorders: a connection's requests are answered one at a time
 * and its reading pauses while a reply waits to be read; requests in flight, connections,
 * connections per uid, the time a request line may take and a connection's life are all
 * bounded, and beyond a bound the client is told `busy` (or why it was cut off).
 */
export class SocketServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly perUid = new Map<number, number>();
  private readonly limits: SocketLimits;
  private inFlight = 0;

  constructor(private readonly opts: SocketServerOptions) {
    this.limits = { ...SOCKET_LIMITS, ...opts.limits };
  }

  /** Listens on the configured path, replacing a stale socket file but never a live one. */
  async start(gid: number): Promise<void> {
    const { path } = this.opts;
    if (await isLive(path)) {
      throw new LibcamError('conflict', `another daemon is answering on ${path}; stop it first`, { socket: path });
    }
    await unlink(path).catch((err: unknown) => {
      if (errnoOf(err) !== 'ENOENT') throw asLibcamError(err, `cannot remove the stale socket ${path}`);
    });
    const server = createServer((socket) => this.accept(socket));
    // The file is made with the process umask (0077 under systemd: nobody can connect yet);
    // its group and mode are set once it exists.
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw asLibcamError(err, `cannot listen on ${path}`);
    }
    server.on('error', (err) => this.opts.log.error({ err }, 'control socket error'));
    await chown(path, -1, gid).catch((err: unknown) => {
      throw asLibcamError(err, `cannot give ${path} to group id ${gid}`);
    });
    await chmod(path, 0o660);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.opts.path).catch(() => undefined);
  }

  /**
   * Turns a connection away with the reason. The reply goes after the client's first bytes
   * (or half a second), so a client that writes its request on connect reads the reason
   * instead of meeting a closed socket.
   */
  private refuse(socket: Socket, code: 'busy' | 'usage' | 'too-large', message: string): void {
    let done = false;
    const reply = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.end(line({ id: null, ok: false, error: new LibcamError(code, message).toJSON() }));
      socket.destroySoon();
    };
    const timer = setTimeout(reply, REFUSE_AFTER_MS);
    socket.once('data', reply);
    socket.once('close', () => clearTimeout(timer));
  }

  private accept(socket: Socket): void {
    socket.on('error', (err) => this.opts.log.debug({ err }, 'client connection error'));
    const peer = (this.opts.peer ?? kernelPeer)(socket);
    if (!peer) return this.refuse(socket, 'usage', 'libcamd cannot tell who is connecting (no peer credentials): connect over its Unix socket');
    const { maxConnections, maxPerUid } = this.limits;
    const mine = this.perUid.get(peer.uid) ?? 0;
    if (this.sockets.size >= maxConnections) {
      this.opts.log.warn({ uid: peer.uid, pid: peer.pid }, 'connection refused: too many connections');
      return this.refuse(socket, 'busy', `libcamd is busy: ${maxConnections} connections are open; try again shortly`);
    }
    if (mine >= maxPerUid) {
      this.opts.log.warn({ uid: peer.uid, pid: peer.pid }, 'connection refused: too many connections from one account');
      return this.refuse(socket, 'busy', `libcamd is busy: uid ${peer.uid} already has ${mine} connections open (at most ${maxPerUid}); close some and try again`);
    }
    this.sockets.add(socket);
    this.perUid.set(peer.uid, mine + 1);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const left = (this.perUid.get(peer.uid) ?? 1) - 1;
      if (left > 0) this.perUid.set(peer.uid, left);
      else this.perUid.delete(peer.uid);
    });
    const caller: Promise<Caller> = accountName(peer.uid).then((user) => ({ user, ...peer }));
    new Connection(this, socket, caller, this.limits).start();
  }

  get log(): Logger {
    return this.opts.log;
  }

  /** A slot for one request, or false when `maxInFlight` are being answered already. */
  takeSlot(): boolean {
    if (this.inFlight >= this.limits.maxInFlight) return false;
    this.inFlight += 1;
    return true;
  }

  freeSlot(): void {
    this.inFlight -= 1;
  }

  /** Answers one line: the reply, or an error reply; never throws. */
  async answer(text: string, caller: Caller, send: (reply: Reply) => void, stream: (file: Streamed, id: ReplyId) => Promise<void>): Promise<void> {
    let id: ReplyId = null;
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new LibcamError('usage', `request is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      // The id is echoed even when the rest is wrong, if it is one the client can match.
      if (typeof parsed === 'object' && parsed !== null && 'id' in parsed && isReplyId(parsed.id)) id = parsed.id;
      if (!validateRequest(parsed)) {
        const problems = (validateRequest.errors ?? []).map((e) => `${e.instancePath || 'request'} ${e.message ?? ''}`.trim());
        throw new LibcamError('usage', `malformed request: ${[...new Set(problems)].join('; ')}`, { problems });
      }
      const request = parsed;
      id = request.id;
      if (request.actor !== undefined) {
        this.opts.log.debug({ claimed: request.actor, uid: caller.uid, user: caller.user }, 'request carried an actor; the kernel says who is asking');
      }
      const result = await this.opts.handle(request, caller, (progress) => send({ id: request.id, progress }));
      if (result instanceof Streamed) {
        if (result.descriptorOf === null) send({ id, ok: true, result: result.header });
        await stream(result, id);
        return;
      }
      send({ id, ok: true, result });
    } catch (err) {
      const error = asLibcamError(err, 'request failed');
      if (error.code === 'internal' || error.code === 'io') this.opts.log.error({ err, id }, 'request failed');
      send({ id, ok: false, error: error.toJSON() });
    }
  }
}

/**
 * One client connection: its bytes are read only as fast as its requests are answered.
 * Reading pauses after every chunk and resumes once every complete line in hand has been
 * answered and its reply has left (a client that does not read its replies stops being
 * read, and is closed when nothing moves for `idleMs`).
 */
class Connection {
  private pending: Buffer = Buffer.alloc(0);
  private busy = false;
  private lineTimer: NodeJS.Timeout | undefined;
  private lifeTimer: NodeJS.Timeout | undefined;
  private expired = false;
  /** A file was sent: the connection ends with it. */
  private streamed = false;

  constructor(
    private readonly server: SocketServer,
    private readonly socket: Socket,
    private readonly caller: Promise<Caller>,
    private readonly limits: SocketLimits,
  ) {}

  start(): void {
    const { socket } = this;
    socket.setTimeout(this.limits.idleMs, () => socket.destroy());
    this.lifeTimer = setTimeout(() => {
      this.expired = true;
      if (!this.busy) this.close('usage', `connection open longer than ${this.limits.lifetimeMs / 60_000} minutes; connect again`);
    }, this.limits.lifetimeMs);
    socket.once('close', () => {
      clearTimeout(this.lineTimer);
      clearTimeout(this.lifeTimer);
    });
    socket.on('data', (chunk: Buffer) => {
      socket.pause();
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      this.pump();
    });
  }

  private close(code: 'usage' | 'too-large', message: string): void {
    clearTimeout(this.lineTimer);
    const { socket } = this;
    socket.removeAllListeners('data');
    if (socket.writable) socket.end(line({ id: null, ok: false, error: new LibcamError(code, message).toJSON() }));
    socket.destroySoon();
  }

  private send = (reply: Reply): boolean => (this.socket.writable ? this.socket.write(line(reply)) : true);

  /**
   * Passes a read-only descriptor of `path` with the header line (SCM_RIGHTS), then closes
   * the connection: the client copies the file in the kernel, and the bytes never cross the
   * socket. A file whose size is not the header's is refused with an error line instead.
   */
  private pass = async (file: Streamed, path: string, id: ReplyId): Promise<void> => {
    const { socket } = this;
    this.streamed = true;
    // Nothing may go out once part of the line has: the client would read a broken line.
    let started = false;
    try {
      // Anything queued for the socket goes first: the line with the descriptor must follow it.
      while (socket.writableLength > 0 && !socket.destroyed) await drainedOrClosed(socket);
      if (socket.destroyed) return;
      const handle = await open(path, 'r');
      try {
        const { size } = await handle.stat();
        if (size !== file.header.bytes) throw new LibcamError('io', `${file.header.path} has ${size} bytes in the store where ${file.header.bytes} were announced`);
        const fd = fdOf(socket);
        const text = Buffer.from(line({ id, ok: true, result: file.header }));
        const sent = fd === undefined ? -1 : sendWithDescriptor(fd, text, handle.fd);
        started = sent > 0;
        if (sent !== text.length) throw new LibcamError('io', `the descriptor of ${file.header.path} could not be passed (${sent} of ${text.length} bytes sent)`);
      } finally {
        await handle.close();
      }
      socket.end();
    } catch (err) {
      this.server.log.error({ err, path: file.header.path }, 'passing a file failed');
      if (!started && socket.writable) socket.end(line({ id, ok: false, error: asLibcamError(err, 'passing a file failed').toJSON() }));
      else socket.destroy();
    }
  };

  /**
   * Sends a file after its header line, as fast as the client reads it, then closes the
   * connection: nothing can follow raw bytes on a line protocol. A file that turns out
   * shorter or longer than its header said cuts the connection, so the client sees the
   * count come short instead of taking wrong bytes.
   */
  private stream = async (file: Streamed, id: ReplyId): Promise<void> => {
    if (file.descriptorOf !== null) return this.pass(file, file.descriptorOf, id);
    const { socket } = this;
    this.streamed = true;
    const source = file.open();
    let sent = 0;
    try {
      for await (const chunk of source) {
        if (!Buffer.isBuffer(chunk)) throw new LibcamError('internal', 'a streamed file gave something other than bytes');
        if (socket.destroyed) break;
        sent += chunk.length;
        if (sent > file.header.bytes) throw new LibcamError('io', `${file.header.path} grew while it was sent`);
        if (!socket.write(chunk)) await drainedOrClosed(socket);
      }
      if (sent !== file.header.bytes) throw new LibcamError('io', `${file.header.path} had ${sent} bytes where ${file.header.bytes} were announced`);
      socket.end();
    } catch (err) {
      this.server.log.error({ err, path: file.header.path, sent }, 'streaming a file failed; connection cut');
      socket.destroy();
    } finally {
      source.destroy();
    }
  };

  /**
   * Answers the complete lines in hand, one at a time, then reads on. A loop, not a call
   * per line: twenty thousand blank lines in one write must not exhaust the stack.
   */
  private pump(): void {
    while (!this.busy && !this.socket.destroyed && !this.streamed) {
      if (this.expired) return this.close('usage', `connection open longer than ${this.limits.lifetimeMs / 60_000} minutes; connect again`);
      // A reply not yet taken by the client: read nothing more until it is (this holds for
      // `busy` and error replies as much as for results).
      if (this.socket.writableNeedDrain) {
        this.socket.once('drain', () => this.pump());
        return;
      }
      const nl = this.pending.indexOf(10);
      if (nl === -1) {
        if (this.pending.length > this.limits.maxLineBytes) return this.close('too-large', `request line is longer than ${this.limits.maxLineBytes} bytes`);
        if (this.pending.length > 0) this.armLineTimer();
        this.socket.resume();
        return;
      }
      clearTimeout(this.lineTimer);
      this.lineTimer = undefined;
      const text = this.pending.subarray(0, nl).toString('utf8');
      this.pending = this.pending.subarray(nl + 1);
      if (nl > this.limits.maxLineBytes) return this.close('too-large', `request line is longer than ${this.limits.maxLineBytes} bytes`);
      if (text.trim() === '') continue;
      if (!this.server.takeSlot()) {
        this.send({ id: null, ok: false, error: new LibcamError('busy', 'libcamd is busy answering other requests; try again shortly').toJSON() });
        continue;
      }
      this.busy = true;
      void this.caller
        .then((caller) => this.server.answer(text, caller, this.send, this.stream))
        .finally(() => {
          this.server.freeSlot();
          this.busy = false;
          this.pump();
        });
    }
  }

  /** A line begun must end soon: a client trickling bytes holds a connection for no more than lineMs. */
  private armLineTimer(): void {
    if (this.lineTimer) return;
    this.lineTimer = setTimeout(() => this.close('usage', `request line not complete ${this.limits.lineMs / 1000} s after it began; send whole lines`), this.limits.lineMs);
  }
}
