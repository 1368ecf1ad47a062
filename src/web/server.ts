import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIPv4, type BlockList, type Socket } from 'node:net';
import { allowList } from '../config/allow.js';
import type { Clock } from '../clock.js';
import { LibcamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AuditEntry, AuditInput } from '../store/audit.js';
import { APP_CSS, APP_JS, gridPage, loginPage } from './pages.js';
import { STAFF_USER, type StaffAccounts } from './staff.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LiveFeed } from '../pipeline/liveFeed.js';
import { LiveChannel } from './liveChannel.js';

/** What a tile shows of a camera: its name and state, never footage. */
export interface CameraTile {
  name: string;
  state: string;
  reason: string | null;
  pause: { reason: string; until: string } | null;
}

export interface WebOptions {
  listen: string;
  cert: string;
  key: string;
  /** Staff networks (CIDR); empty: only this box itself. */
  allow: readonly string[];
  sessionIdleMs: number;
  sessionMaxMs: number;
  staff: StaffAccounts;
  cameras: () => Promise<CameraTile[]>;
  /** A camera's live frames; undefined for a camera that does not exist or is switched off. */
  live: (camera: string) => LiveFeed | undefined;
  audit: (input: AuditInput) => Promise<AuditEntry>;
  clock: Clock;
  log: Logger;
}

interface Session {
  token: string;
  user: string;
  address: string;
  created: number;
  seen: number;
  /** Seconds of live picture watched in this session, per camera. */
  watched: Map<string, number>;
}

/** One tile watching one camera over a WebSocket. */
interface Watcher {
  ws: WebSocket;
  session: Session;
  camera: string;
  started: number;
  /** Its time is added to the session's once, when it ends. */
  counted: boolean;
  /** Answered the last ping (a browser that went away without closing does not). */
  alive: boolean;
  pinged: number;
}

interface Throttle {
  failures: number;
  until: number;
  last: number;
}

/** __Host-: the browser keeps it only if Secure, for this host and path / (no subdomain can set it). */
const COOKIE = '__Host-libcam_session';
/** Wrong passwords before each further try waits: 1 s, 2 s, 4 s … */
const FREE_FAILURES = 5;
/** The longest an account's failures from one address make that address wait. */
const PAIR_MAX_WAIT_MS = 30_000;
/** An address that keeps guessing (any account) waits longer. */
const ADDRESS_MAX_WAIT_MS = 15 * 60_000;
/**
 * Failures against an account from many addresses only slow its answers, up to this: they
 * never refuse its right password, so nobody can keep staff out by guessing for them.
 */
const ACCOUNT_MAX_DELAY_MS = 5_000;
/** Password checks at once (32 MiB of scrypt each): more wait for none, they are refused. */
const MAX_CHECKS = 2;
/** Throttle and session entries kept at most (an attacker spraying names or addresses). */
const MAX_ENTRIES = 10_000;
const MAX_FORM_BYTES = 4096;
/** Connections at once: each tile watching a camera holds one (16 cameras x 8 browsers, and their pages). */
const MAX_CONNECTIONS = 256;
/** Tiles one account may watch at once, all its sessions together (8 screens of 8 cameras). */
const MAX_WATCHERS_PER_USER = 64;
/** A live picture whose browser has not answered a ping for this long is closed. */
const PING_MS = 30_000;
/** How often open live pictures are checked against their session (expired, logged out, account removed). */
const WATCH_CHECK_MS = 5_000;

/** Headers on every answer: HTTPS only, nothing from elsewhere, no framing, nothing cached. */
const SECURITY_HEADERS: Record<string, string> = {
  'Strict-Transport-Security': 'max-age=31536000',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** An IPv4 address a dual-stack socket reports as ::ffff:a.b.c.d, as itself. */
const plainAddress = (address: string): string => (address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address);

/**
 * The staff live view (policy §1, §3): HTTPS, answered only on staff networks (web.allow,
 * checked before anything else), behind a login with sessions that end when idle, when old,
 * at logout, and when the account is removed or its password changed. Logins and logouts
 * are audited. It has no route that reads the store.
 */
export class WebServer {
  private server: Server | undefined;
  private readonly sessions = new Map<string, Session>();
  private readonly pairThrottle = new Map<string, Throttle>();
  private readonly accountThrottle = new Map<string, Throttle>();
  private readonly addressThrottle = new Map<string, Throttle>();
  /** Accounts and addresses with a password check under way: a second try at once is refused. */
  private readonly checking = new Set<string>();
  private readonly sockets = new Set<Socket>();
  /** Addresses refused lately, so a flood of them is one log line a minute each. */
  private readonly refusedLogged = new Map<string, number>();
  private readonly allowed: BlockList;
  private readonly channels = new Map<string, LiveChannel>();
  private readonly watchers = new Set<Watcher>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024, perMessageDeflate: false });
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: WebOptions) {
    this.allowed = allowList(opts.allow);
    opts.staff.onEnded((user) => this.endSessions(user, 'account changed'));
  }

  async start(): Promise<void> {
    const [cert, key] = await Promise.all([readFile(this.opts.cert), readFile(this.opts.key)]).catch((err: unknown) => {
      throw new LibcamError('invalid-config', `web.tls: ${err instanceof Error ? err.message : String(err)}`, { path: 'web.tls' });
    });
    let server: Server;
    try {
      server = createServer({ cert, key, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 }, (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          const error = err instanceof LibcamError && err.code === 'too-large' ? err : undefined;
          if (!error) this.opts.log.error({ err, url: req.url }, 'web request failed');
          if (!res.headersSent) this.send(res, error ? 413 : 500, 'text/plain', error ? '413 too large\n' : 'internal error\n');
          else res.destroy();
        });
      });
    } catch (err) {
      throw new LibcamError('invalid-config', `web.tls: ${this.opts.cert} and ${this.opts.key} are not a certificate and its key (${err instanceof Error ? err.message : String(err)})`, { path: 'web.tls' });
    }
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.maxConnections = MAX_CONNECTIONS;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.watchTimer = setInterval(() => this.checkWatchers(), WATCH_CHECK_MS);
    this.watchTimer.unref();
    const at = this.opts.listen.lastIndexOf(':');
    const host = this.opts.listen.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(this.opts.listen.slice(at + 1));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new LibcamError('conflict', `web.listen: cannot listen on ${this.opts.listen} (${err.message})`, { path: 'web.listen' })));
      server.listen(port, host, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.opts.log.error({ err }, 'live view server error'));
        resolve();
      });
    });
    this.server = server;
    this.opts.log.info({ listen: this.opts.listen, allow: this.opts.allow.length > 0 ? this.opts.allow : ['this box only'] }, 'live view listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    clearInterval(this.watchTimer);
    // Their ends go on record before the audit trail closes after us.
    await Promise.all([...this.sessions].map(([token, s]) => this.endSession(token, s, 'libcamd stopped')));
    for (const w of this.watchers) w.ws.terminate();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Every connection, mid-handshake too: none may hold the daemon's shutdown.
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': `${type}; charset=utf-8`, ...headers });
    res.end(body);
  }

  /** The request's address if web.allow admits it; otherwise undefined, and a log line now and then. */
  private admitted(req: IncomingMessage): string | undefined {
    const address = plainAddress(req.socket.remoteAddress ?? '');
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (address && this.allowed.check(address, type)) return address;
    const now = this.opts.clock.now();
    if ((this.refusedLogged.get(address) ?? 0) <= now - 60_000) {
      if (this.refusedLogged.size >= MAX_ENTRIES) this.refusedLogged.clear();
      this.refusedLogged.set(address, now);
      this.opts.log.warn({ address, url: req.url }, 'live view: refused an address outside web.allow');
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = this.admitted(req);
    if (address === undefined) return this.send(res, 403, 'text/plain', '403 Forbidden\n');
    const path = new URL(req.url ?? '/', 'https://libcam.invalid').pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/app.css') return this.send(res, 200, 'text/css', APP_CSS);
    if (method === 'GET' && path === '/app.js') return this.send(res, 200, 'text/javascript', APP_JS);
    if (method === 'GET' && path === '/login') return this.send(res, 200, 'text/html', loginPage(null));
    if (method === 'POST' && path === '/login') return this.login(req, res, address);

    const session = this.session(req);
    if (!session) {
      if (method === 'GET' && path === '/') return this.send(res, 302, 'text/plain', 'log in first\n', { Location: '/login' });
      return this.send(res, 401, 'text/plain', '401 log in first\n');
    }
    if (method === 'POST' && path === '/logout') return this.logout(req, res, session);
    if (method === 'GET' && path === '/') return this.send(res, 200, 'text/html', gridPage(session.user));
    if (method === 'GET' && path === '/cameras.json') return this.send(res, 200, 'application/json', JSON.stringify(await this.opts.cameras()));
    return this.send(res, 404, 'text/plain', '404 not found\n');
  }

  /** The session a request's cookie names, if it is live: idle and absolute limits, then touched. */
  private session(req: IncomingMessage): Session | undefined {
    const token = cookieOf(req.headers.cookie, COOKIE);
    const session = token === undefined ? undefined : this.sessions.get(token);
    if (!token || !session) return undefined;
    const now = this.opts.clock.now();
    if (this.expired(session, now)) {
      void this.endSession(token, session, this.idle(session, now) ? 'idle' : 'too old');
      return undefined;
    }
    session.seen = now;
    return session;
  }

  private wait(map: Map<string, Throttle>, key: string, now: number): number {
    const t = map.get(key);
    return t && t.until > now ? t.until - now : 0;
  }

  private fail(map: Map<string, Throttle>, key: string, now: number, maxMs: number): number {
    if (map.size >= MAX_ENTRIES) sweep(map, now);
    const t = map.get(key) ?? { failures: 0, until: 0, last: now };
    t.failures += 1;
    t.last = now;
    t.until = t.failures >= FREE_FAILURES ? now + Math.min(maxMs, 1000 * 2 ** (t.failures - FREE_FAILURES)) : 0;
    map.set(key, t);
    return t.failures;
  }

  /** A cross-site page must not post the form from a staff browser (guesses in its name). */
  private static crossSite(req: IncomingMessage): boolean {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
    // With Referrer-Policy no-referrer, browsers send "Origin: null" on their own form posts:
    // that says nothing; Sec-Fetch-Site above does.
    const origin = req.headers.origin;
    if (origin === undefined || origin === 'null') return false;
    try {
      return new URL(origin).host !== req.headers.host;
    } catch {
      return true;
    }
  }

  private async login(req: IncomingMessage, res: ServerResponse, address: string): Promise<void> {
    if (WebServer.crossSite(req)) return this.send(res, 403, 'text/plain', '403 log in from the live view page itself\n');
    const form = new URLSearchParams(await readBody(req, MAX_FORM_BYTES));
    const typed = (form.get('user') ?? '').trim().toLowerCase();
    // A name no account can have is counted under one key, and kept out of the audit trail's subject.
    const user = STAFF_USER.test(typed) ? typed : '';
    const password = form.get('password') ?? '';
    const now = this.opts.clock.now();
    const pair = `${user}\n${address}`;
    const waitMs = Math.max(this.wait(this.pairThrottle, pair, now), this.wait(this.addressThrottle, address, now));
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      return this.send(res, 429, 'text/html', loginPage(`Too many wrong passwords: try again in ${seconds} s.`, user), { 'Retry-After': String(seconds) });
    }
    // One check at a time per account and per address, and only a few at all: tries sent together
    // meet the throttle (the failure is counted before the next may start) and cannot pile up scrypt.
    const busy = [`account:${user}`, `address:${address}`];
    if (busy.some((k) => this.checking.has(k)) || this.checking.size >= MAX_CHECKS * 2) {
      return this.send(res, 429, 'text/html', loginPage('Another login is being checked: try again in a moment.', user), { 'Retry-After': '1' });
    }
    for (const k of busy) this.checking.add(k);
    let account: Awaited<ReturnType<StaffAccounts['check']>>;
    try {
      // Failures against this account from anywhere slow its answer a little; they never refuse it.
      const accountFailures = this.accountThrottle.get(user)?.failures ?? 0;
      if (accountFailures >= FREE_FAILURES) await sleep(Math.min(ACCOUNT_MAX_DELAY_MS, 250 * (accountFailures - FREE_FAILURES + 1)));
      account = user === '' ? undefined : await this.opts.staff.check(user, password);
      if (!account) {
        const failures = this.fail(this.pairThrottle, pair, now, PAIR_MAX_WAIT_MS);
        this.fail(this.accountThrottle, user, now, 0);
        this.fail(this.addressThrottle, address, now, ADDRESS_MAX_WAIT_MS);
        await this.opts.audit({
          actor: { user: 'libcamd', uid: null },
          action: 'web.login-failed',
          subject: user === '' ? null : user,
          details: { address, failures, ...(user === '' ? { name: 'not an account name' } : {}) },
        });
      }
    } finally {
      for (const k of busy) this.checking.delete(k);
    }
    if (!account) return this.send(res, 401, 'text/html', loginPage('Wrong account or password.', user));
    this.pairThrottle.delete(pair);
    this.accountThrottle.delete(user);
    this.addressThrottle.delete(address);
    for (const [token, s] of this.sessions) if (this.expired(s, now)) void this.endSession(token, s, this.idle(s, now) ? 'idle' : 'too old');
    if (this.sessions.size >= MAX_ENTRIES) return this.send(res, 503, 'text/plain', '503 too many sessions\n');
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(token, { token, user: account.user, address, created: now, seen: now, watched: new Map() });
    await this.opts.audit({ actor: { user: 'libcamd', uid: null }, action: 'web.login', subject: account.user, details: { address } });
    this.send(res, 303, 'text/plain', 'logged in\n', { Location: '/', 'Set-Cookie': `${COOKIE}=${token}; HttpOnly; Secure; SameSite=Strict; Path=/` });
  }

  private expired(s: Session, now: number): boolean {
    return this.idle(s, now) || now - s.created > this.opts.sessionMaxMs;
  }

  private idle(s: Session, now: number): boolean {
    return now - s.seen > this.opts.sessionIdleMs;
  }

  /**
   * Ends a session other than by logout (idle, too old, its account changed, libcamd
   * stopping): its pictures close, and the audit trail has its end with what it watched,
   * as a logout's entry does. Closing the browser without logging out is the usual end.
   */
  /** Never rejects: a failure to audit is logged. */
  private endSession(token: string, s: Session, reason: string): Promise<void> {
    if (!this.sessions.delete(token)) return Promise.resolve();
    this.endWatching(s, reason);
    const minutes = Math.round((this.opts.clock.now() - s.created) / 60_000);
    this.opts.log.info({ user: s.user, minutes, reason }, 'live view session ended');
    return this.opts
      .audit({ actor: { user: 'libcamd', uid: null }, action: 'web.session-end', subject: s.user, details: { address: s.address, reason, minutes, watched: Object.fromEntries(s.watched) } })
      .then(
        () => undefined,
        (err: unknown) => this.opts.log.error({ err }, 'cannot audit the end of a live view session'),
      );
  }

  private async logout(req: IncomingMessage, res: ServerResponse, session: Session): Promise<void> {
    const token = cookieOf(req.headers.cookie, COOKIE);
    if (token) this.sessions.delete(token);
    this.endWatching(session, 'logged out');
    const minutes = Math.round((this.opts.clock.now() - session.created) / 60_000);
    const watched = Object.fromEntries(session.watched);
    await this.opts.audit({ actor: { user: 'libcamd', uid: null }, action: 'web.logout', subject: session.user, details: { address: session.address, minutes, watched } });
    this.send(res, 303, 'text/plain', 'logged out\n', { Location: '/login', 'Set-Cookie': `${COOKIE}=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0` });
  }

  private endSessions(user: string, why: string): void {
    for (const [token, s] of this.sessions) if (s.user === user) void this.endSession(token, s, why);
  }

  /**
   * A tile asks for a camera's live picture: `GET /live/<camera>` upgraded to a WebSocket.
   * The same gates as a page, in the same order (web.allow, then a live session), and the
   * page's own origin only: a page elsewhere cannot open it with a staff browser's cookie.
   */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\nConnection: close\r\n\r\n${text}\n`);
    };
    socket.on('error', () => socket.destroy());
    if (this.admitted(req) === undefined) return refuse(403, 'Forbidden');
    const path = new URL(req.url ?? '/', 'https://libcam.invalid').pathname;
    const session = this.session(req);
    if (!session) return refuse(401, 'Unauthorized');
    const origin = req.headers.origin;
    let sameOrigin = false;
    try {
      sameOrigin = origin !== undefined && new URL(origin).host === req.headers.host;
    } catch {
      sameOrigin = false;
    }
    if (!sameOrigin) return refuse(403, 'Forbidden');
    const match = /^\/live\/([^/]+)$/.exec(path);
    let camera: string | undefined;
    try {
      camera = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
    } catch {
      camera = undefined;
    }
    const feed = camera === undefined ? undefined : this.opts.live(camera);
    if (camera === undefined || !feed) return refuse(404, 'Not Found');
    let mine = 0;
    for (const w of this.watchers) if (w.session.user === session.user) mine += 1;
    if (mine >= MAX_WATCHERS_PER_USER) return refuse(429, 'Too Many Requests');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.watch(ws, session, feed));
  }

  private watch(ws: WebSocket, session: Session, feed: LiveFeed): void {
    let channel = this.channels.get(feed.camera);
    if (!channel) {
      channel = new LiveChannel(feed, this.opts.log.child({ camera: feed.camera }));
      this.channels.set(feed.camera, channel);
    }
    const now = this.opts.clock.now();
    const watcher: Watcher = { ws, session, camera: feed.camera, started: now, counted: false, alive: true, pinged: now };
    ws.on('pong', () => (watcher.alive = true));
    const viewer = {
      send: (data: string | Buffer) => ws.send(data, { binary: typeof data !== 'string' }),
      backlog: () => ws.bufferedAmount,
    };
    this.watchers.add(watcher);
    const live = channel;
    ws.on('message', () => undefined); // tiles send nothing that matters; maxPayload bounds it
    ws.on('error', () => ws.terminate());
    ws.once('close', () => {
      this.watchers.delete(watcher);
      live.remove(viewer);
      if (live.watching === 0) this.channels.delete(feed.camera);
      this.countWatched(watcher);
    });
    this.opts.log.info({ user: session.user, address: session.address, camera: feed.camera }, 'live view: watching');
    live.add(viewer);
  }

  /**
   * Every few seconds: sessions that are over end (with their audit entry) and close their
   * pictures; a picture whose browser stopped answering pings is dropped, so a vanished
   * viewer does not keep a camera's branch open or its time counting.
   */
  private checkWatchers(): void {
    const now = this.opts.clock.now();
    for (const [token, s] of this.sessions) if (this.expired(s, now)) void this.endSession(token, s, this.idle(s, now) ? 'idle' : 'too old');
    for (const w of this.watchers) {
      if (this.sessions.get(w.session.token) !== w.session) {
        w.ws.terminate();
        continue;
      }
      if (now - w.pinged < PING_MS) continue;
      if (!w.alive) {
        this.opts.log.info({ user: w.session.user, camera: w.camera }, 'live view: a browser stopped answering; closing its picture');
        w.ws.terminate();
        continue;
      }
      w.alive = false;
      w.pinged = now;
      w.ws.ping();
    }
  }


  private endWatching(session: Session, why: string): void {
    for (const w of this.watchers) {
      if (w.session !== session) continue;
      this.countWatched(w); // now, so that the logout's audit entry has it
      w.ws.close(4401, why.slice(0, 100));
    }
  }

  /**
   * Watching live is not archival access: no notice to the Director. But each viewing is
   * on record: a log line with account, address, camera and length, and the session's
   * total per camera in its logout's audit entry.
   */
  private countWatched(w: Watcher): void {
    if (w.counted) return;
    w.counted = true;
    const seconds = Math.round((this.opts.clock.now() - w.started) / 1000);
    w.session.watched.set(w.camera, (w.session.watched.get(w.camera) ?? 0) + seconds);
    this.opts.log.info({ user: w.session.user, address: w.session.address, camera: w.camera, seconds }, 'live view: stopped watching');
  }
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    bytes += b.length;
    if (bytes > max) throw new LibcamError('too-large', 'form too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Drops entries whose wait is over and that saw no failure for an hour; then, if still full, all. */
function sweep(map: Map<string, Throttle>, now: number): void {
  for (const [k, t] of map) if (t.until <= now && now - t.last > 3_600_000) map.delete(k);
  if (map.size >= MAX_ENTRIES) map.clear();
}
