import { chmod, chown, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Ajv } from 'ajv';
import { LibcamError, asLibcamError, errnoOf } from '../errors.js';
import type { Logger } from '../log.js';
import { MAX_REQUEST_BYTES, REQUEST_SCHEMA, type Reply, type ReplyId, type Request } from '../protocol.js';

export interface SocketServerOptions {
  path: string;
  log: Logger;
  /** Answers one well-formed request; throws LibcamError for an error reply. */
  handle: (request: Request, progress: (data: unknown) => void) => Promise<unknown>;
  maxLineBytes?: number;
  maxConnections?: number;
  idleMs?: number;
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

/**
 * The control socket: newline-delimited JSON, mode 0660, the IT staff's group.
 * Bad traffic (malformed JSON, unknown methods, oversized lines, idle or vanishing
 * clients) costs that one connection at most; everyone else keeps being served.
 */
export class SocketServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly maxLineBytes: number;

  constructor(private readonly opts: SocketServerOptions) {
    this.maxLineBytes = opts.maxLineBytes ?? MAX_REQUEST_BYTES;
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
    server.maxConnections = this.opts.maxConnections ?? 64;
    // The socket file is created with the process umask: make it 0660 from the first instant.
    const umask = process.umask(0o117);
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
    } finally {
      process.umask(umask);
    }
    server.on('error', (err) => this.opts.log.error({ err }, 'control socket error'));
    await chmod(path, 0o660);
    await chown(path, -1, gid).catch((err: unknown) => {
      throw asLibcamError(err, `cannot give ${path} to group id ${gid}`);
    });
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

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setTimeout(this.opts.idleMs ?? 60_000, () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', (err) => this.opts.log.debug({ err }, 'client connection error'));
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    socket.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        pending.push(chunk.subarray(start, nl));
        const line = Buffer.concat(pending).toString('utf8');
        const size = pendingBytes + nl - start;
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
        if (size > this.maxLineBytes) return this.refuseOversized(socket);
        if (line.trim() !== '') void this.answer(socket, line);
      }
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > this.maxLineBytes) this.refuseOversized(socket);
    });
  }

  private refuseOversized(socket: Socket): void {
    const error = new LibcamError('too-large', `request line is longer than ${this.maxLineBytes} bytes`);
    socket.end(`${JSON.stringify({ id: null, ok: false, error: error.toJSON() })}\n`);
    socket.removeAllListeners('data');
    socket.pause();
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    let id: ReplyId = null;
    const send = (reply: Reply): void => {
      if (socket.writable) socket.write(`${JSON.stringify(reply)}\n`);
    };
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (err) {
        throw new LibcamError('usage', `request is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (typeof parsed === 'object' && parsed !== null && 'id' in parsed) {
        const candidate = parsed.id;
        if (typeof candidate === 'string' || (typeof candidate === 'number' && Number.isInteger(candidate))) id = candidate;
      }
      if (!validateRequest(parsed)) {
        const problems = (validateRequest.errors ?? []).map((e) => `${e.instancePath || 'request'} ${e.message ?? ''}`.trim());
        throw new LibcamError('usage', `malformed request: ${problems.join('; ')}`, { problems });
      }
      const request = parsed;
      const result = await this.opts.handle(request, (progress) => send({ id: request.id, progress }));
      send({ id, ok: true, result });
    } catch (err) {
      const error = asLibcamError(err, 'request failed');
      if (error.code === 'internal' || error.code === 'io') this.opts.log.error({ err, id }, 'request failed');
      send({ id, ok: false, error: error.toJSON() });
    }
  }
}
