import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { VideoCodec } from '../store/mp4.js';
import { depayloaderFor, type AccessUnit, type Depayloader } from './rtpDepay.js';
import { parseSdp, type SdpVideo } from './sdp.js';

/**
 * libcam's own RTSP client, for cameras that send RTP interleaved in the RTSP connection
 * (TCP, what libcam asks for first). Only the video stream's packets are read further: a
 * camera's audio is dropped as it arrives (policy §1). It reads the connection in whatever chunks the kernel
 * hands over, and turns RTP packets into whole access units in JavaScript; GStreamer
 * gets one buffer per frame through an appsrc and does the rest (parse, mux, split).
 *
 * Why not rtspsrc: measured on this 2-core machine, rtspsrc alone (before any parsing or
 * muxing) cost 1.65 times what ffmpeg's whole recording cost, because every RTP packet
 * crosses threads several times inside rtpbin (session statistics, the jitterbuffer's
 * own thread: a futex wake per packet). Here a packet costs a header read and a slice
 * (BENCHMARKS.md, Recording at camera bitrates). rtspsrc remains for RTP over UDP and
 * for rtsps:// URLs.
 *
 * Errors carry the words libcam's classifier reads (recorder.ts `classifyText`): the
 * status code in parentheses, "Timeout while waiting for server response" for a camera
 * that accepts the connection and says nothing, the socket's own code when it cannot
 * connect.
 */

export interface RtspSource {
  url: string;
  user?: string | undefined;
  password?: string | undefined;
}

/** The socket's one read buffer (reused for every read: no allocation per read). */
const READ_BUFFER_BYTES = 64 * 1024;
/** How long one request may wait for its answer, and the connection for its first byte. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The most an RTSP header block may hold before the answer is treated as garbage. */
const MAX_HEADER_BYTES = 64 * 1024;
/** The most an incomplete item may hold: an answer's header and body, or a packet (4 + 65,535 bytes), and a read after it. */
const MAX_CARRY_BYTES = 2 * MAX_HEADER_BYTES + 65_540 + READ_BUFFER_BYTES;
/** A camera that names no session timeout gets a keep-alive this often (RFC 2326's default timeout is 60 s). */
const DEFAULT_KEEPALIVE_MS = 30_000;
const USER_AGENT = 'libcam';
/** Answers that send the client elsewhere, and how many are followed in a row. */
const REDIRECTS = new Set([301, 302, 303, 307]);
const MAX_REDIRECTS = 5;
/** Redirects are not followed further once this long has gone on them. */
const REDIRECTS_WITHIN_MS = 30_000;
/** How often a stalled stream is looked for. */
const STALL_CHECK_MS = 1000;

interface Response {
  status: number;
  reason: string;
  headers: Map<string, string>;
  body: Buffer;
}

export class RtspError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RtspError';
  }
}

/** A camera's answer that the stream is elsewhere (RFC 2326 11.3.2-3, 7.1.3). */
class RtspRedirect extends RtspError {
  constructor(
    readonly location: string,
    status: number,
  ) {
    super(`the camera redirected to ${location} (${status})`, status);
  }
}

/** A connection that could not be made; the message is the socket's own (its code is what the recorder reads). */
class ConnectFailure extends RtspError {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** Socket codes in words that are not the recorder's words for an unreachable camera. */
const CONNECT_WORDS: Record<string, string> = {
  ECONNREFUSED: 'nothing listens there',
  ETIMEDOUT: 'no answer in time',
  EHOSTUNREACH: 'no route to that host',
  ENETUNREACH: 'no route to that network',
  ENOTFOUND: 'the name does not resolve',
  EAI_AGAIN: 'the name does not resolve',
};

/** A URL's host as credentials are scoped: lower case, without a trailing dot or IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/\.$/, '').replace(/^\[|\]$/g, '');
}

/** Where a Location points, for a message: scheme and host only (the rest is the camera's text). */
function hostPart(location: string, base: string): string {
  try {
    const url = new URL(location, base);
    return `${url.protocol}//${url.host}`;
  } catch {
    return 'an address that is not a URL';
  }
}

/**
 * A failure at a redirect's target, told as such. Its socket codes and status words are
 * left out: the recorder would read them as the configured camera being off (and retry it
 * every second, since it answers) or refusing its credentials.
 */
function redirectedFailure(err: unknown, target: URL, sameHost: boolean): RtspError {
  const where = `${target.protocol}//${target.host}`;
  const status = err instanceof RtspError ? err.status : undefined;
  if (status === 401 && !sameHost) {
    return new RtspError(`the camera redirected to ${where}, which asks for credentials; libcam sends a camera's credentials only to the host configured for it: configure ${where} as the camera's URL`);
  }
  if (err instanceof ConnectFailure) return new RtspError(`the camera redirected to ${where}, where no connection could be made (${CONNECT_WORDS[err.code] ?? 'the connection failed'})`);
  const message = err instanceof Error ? err.message : String(err);
  return new RtspError(`the camera redirected to ${where}: ${message}`, status);
}

interface Pending {
  cseq: number;
  method: string;
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** What the session passes on: access units, and the end of the stream with why. */
export interface SessionSink {
  unit(unit: AccessUnit): void;
  end(error: Error): void;
}

const DIGESTS: Record<string, string> = { md5: 'md5', 'sha-256': 'sha256' };

/** The parameters of a WWW-Authenticate challenge, names in lower case. */
function challengeParams(challenge: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const m of challenge.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params.set((m[1] ?? '').toLowerCase(), (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1'));
  return params;
}

/** A value inside a quoted string of an Authorization header. */
const quoted = (value: string): string => `"${value.replace(/(["\\])/g, '\\$1')}"`;

/**
 * Digest (RFC 7616: MD5 or SHA-256, qop=auth or none) or Basic credentials for the
 * camera's challenge; undefined for a scheme or algorithm libcam does not speak.
 */
function authorization(challenge: string, method: string, uri: string, user: string, password: string, nc: number): string | undefined {
  const scheme = /^\s*(\w+)/.exec(challenge)?.[1]?.toLowerCase();
  if (scheme === 'basic') return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  if (scheme !== 'digest') return undefined;
  const params = challengeParams(challenge);
  const algorithm = params.get('algorithm');
  const digest = DIGESTS[(algorithm ?? 'md5').toLowerCase()];
  if (!digest) return undefined;
  const realm = params.get('realm') ?? '';
  const nonce = params.get('nonce') ?? '';
  const h = (s: string): string => createHash(digest).update(s).digest('hex');
  const ha1 = h(`${user}:${realm}:${password}`);
  const ha2 = h(`${method}:${uri}`);
  const qop = params.get('qop')?.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : undefined;
  const opaque = params.get('opaque');
  const parts = [`username=${quoted(user)}`, `realm=${quoted(realm)}`, `nonce=${quoted(nonce)}`, `uri=${quoted(uri)}`];
  if (algorithm !== undefined) parts.push(`algorithm=${algorithm}`);
  if (qop) {
    const cnonce = randomBytes(8).toString('hex');
    const count = nc.toString(16).padStart(8, '0');
    parts.push(`qop=auth`, `nc=${count}`, `cnonce="${cnonce}"`, `response="${h(`${ha1}:${nonce}:${count}:${cnonce}:auth:${ha2}`)}"`);
  } else {
    parts.push(`response="${h(`${ha1}:${nonce}:${ha2}`)}"`);
  }
  if (opaque !== undefined) parts.push(`opaque=${quoted(opaque)}`);
  return `Digest ${parts.join(', ')}`;
}

/**
 * The challenge to answer among the camera's WWW-Authenticate headers: Digest with an
 * algorithm libcam speaks (SHA-256 first), then Basic.
 */
function pickChallenge(headers: string[]): string | undefined {
  const digests = headers.filter((h) => /^\s*digest/i.test(h));
  const algorithmOf = (h: string): string => (challengeParams(h).get('algorithm') ?? 'md5').toLowerCase();
  return digests.find((h) => algorithmOf(h) === 'sha-256') ?? digests.find((h) => algorithmOf(h) === 'md5') ?? headers.find((h) => /^\s*basic/i.test(h));
}

/** Where an RTSP header ends (after its blank line, CRLF or a bare LF), looked for in [from, to); -1 if not there yet. */
function headerEnd(data: Buffer, from: number, to: number): number {
  const crlf = data.subarray(0, to).indexOf('\r\n\r\n', from);
  const lf = data.subarray(0, to).indexOf('\n\n', from);
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return crlf + 4;
  return lf >= 0 ? lf + 2 : -1;
}

/** A header block's Content-Length: digits only, at most 64 KiB; 0 when there is none. */
function contentLength(head: string): number {
  const value = /^content-length:[ \t]*(.*?)[ \t]*\r?$/im.exec(head)?.[1];
  if (value === undefined) return 0;
  if (!/^\d{1,6}$/.test(value) || Number(value) > MAX_HEADER_BYTES) throw new RtspError('the camera sent an RTSP answer with a bad Content-Length');
  return Number(value);
}

/** Whether the bytes at `at` may begin an RTSP answer or request (or its first bytes, cut by the read). */
function mayStartMessage(data: Buffer, at: number): boolean {
  const head = data.toString('latin1', at, Math.min(data.length, at + 24));
  return /^(?:RTSP\/|[A-Z_]{1,20} |[A-Z_/]{0,20}$)/.test(head);
}

/** Why a description offers nothing libcam records, in words that name what it does offer. */
function unsupportedVideo(sdp: string): string {
  const offered = [...sdp.matchAll(/^a=rtpmap:\d+\s+([\w.-]+)/gim)].map((m) => m[1]).join(', ');
  return `the camera offers no H.264 or H.265 video stream libcam can record${offered ? ` (it offers ${offered})` : ''}`;
}

/** Resolves a media's control attribute against the content base (RFC 2326 C.1.1). */
function controlUrl(base: string, control: string | undefined): string {
  if (control === undefined || control === '*') return base;
  if (/^rtsps?:\/\//i.test(control)) return control;
  return base.endsWith('/') ? base + control : `${base}/${control}`;
}

/**
 * One RTSP session over one TCP connection: `open` connects, describes and sets up the
 * video stream (the camera's codec is known from then on), `play` starts the flow,
 * `close` tears it down. The connection closing, an RTSP error or a broken stream ends
 * the session once, through `sink.end`.
 */
export class RtspSession {
  private readonly socket: Socket;
  private readonly url: string;
  private readonly source: RtspSource;
  /** What DESCRIBE found (open() fills it in before anyone sees the session). */
  private video: SdpVideo = { codec: 'h264', payloadType: 96, clockRate: 90000, control: undefined, parameterSets: [] };
  private playUri: string;
  private cseq = 0;
  private nonceCount = 0;
  private auth: string | undefined;
  private challenge: string | undefined;
  private session: string | undefined;
  private keepaliveMs = DEFAULT_KEEPALIVE_MS;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private keepaliveMethod: 'GET_PARAMETER' | 'OPTIONS' = 'OPTIONS';
  private pending: Pending | undefined;
  /** An item cut by the end of a read, waiting for the rest. */
  private carry = Buffer.allocUnsafe(2048);
  private carryLength = 0;
  /** A carried RTSP message: how far its header's end was looked for, and its whole length once known. */
  private textScanned = 0;
  private textNeed = 0;
  private channel = 0;
  private depay: Depayloader;
  private sink: SessionSink | undefined;
  private lastUnitAt = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private ended = false;
  /** RTP packets and bytes received, for status and benchmarks. */
  packets = 0;
  bytes = 0;

  private constructor(socket: Socket, source: RtspSource, url: string) {
    this.socket = socket;
    this.source = source;
    this.url = url;
    this.playUri = url;
    this.depay = depayloaderFor('h264', []);
    socket.on('error', (err) => this.finish(err));
    socket.on('close', () => this.finish(new RtspError('the camera closed the connection')));
  }

  /**
   * Connects, DESCRIBEs and SETs UP the first H.264 or H.265 video stream, interleaved.
   * A camera that redirects (3xx with a Location, as some recorders and multi-channel
   * encoders do) is followed, up to MAX_REDIRECTS times and for REDIRECTS_WITHIN_MS at
   * most; its credentials go only to the host they were configured for. What goes wrong
   * after a redirect is told as the redirect's, in words the recorder does not read as
   * the configured camera being off or refusing its credentials: the configured camera
   * answered, and retrying it at once would only be redirected again.
   */
  static async open(source: RtspSource): Promise<RtspSession> {
    const configured = new URL(source.url);
    const user = source.user ?? (configured.username ? decodeURIComponent(configured.username) : undefined);
    const password = source.password ?? (configured.password ? decodeURIComponent(configured.password) : undefined);
    const home = hostOf(configured);
    const started = performance.now();
    let target = configured;
    for (let hops = 0; ; hops++) {
      if (target.protocol !== 'rtsp:') {
        throw new RtspError(`libcam's RTSP client speaks rtsp:// only, not ${target.protocol}${hops > 0 ? ` (the camera redirected to ${target.protocol}//${target.host})` : ''}`);
      }
      target.username = '';
      target.password = '';
      const url = target.toString();
      const sameHost = hostOf(target) === home;
      try {
        return await RtspSession.openAt(target, { url, user: sameHost ? user : undefined, password: sameHost ? password : undefined });
      } catch (err) {
        if (hops > 0 && !(err instanceof RtspRedirect)) throw redirectedFailure(err, target, sameHost);
        if (!(err instanceof RtspRedirect)) throw err;
        if (hops >= MAX_REDIRECTS) throw new RtspError(`the camera redirected more than ${MAX_REDIRECTS} times (last to ${hostPart(err.location, url)})`, err.status);
        if (performance.now() - started > REDIRECTS_WITHIN_MS) {
          throw new RtspError(`the camera's redirects took longer than ${REDIRECTS_WITHIN_MS / 1000} s (last to ${hostPart(err.location, url)})`, err.status);
        }
        let next: URL;
        try {
          next = new URL(err.location, url);
        } catch {
          throw new RtspError('the camera redirected to an address that is not a URL', err.status);
        }
        if (next.protocol === 'rtsp:' && hostOf(next) === '') throw new RtspError('the camera redirected to a URL without a host', err.status);
        target = next;
      }
    }
  }

  private static async openAt(target: URL, source: RtspSource): Promise<RtspSession> {
    const reader: Reader = { target: undefined };
    let socket: Socket;
    try {
      socket = await connectTo(target.hostname.replace(/^\[|\]$/g, ''), target.port ? Number(target.port) : 554, reader);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : /\((E[A-Z_]+)\)/.exec(message)?.[1];
      throw new ConnectFailure(message, code ?? 'ECONNECT');
    }
    const session = new RtspSession(socket, source, source.url);
    reader.target = (data) => session.onRead(data);
    try {
      await session.setUp();
      return session;
    } catch (err) {
      session.close();
      throw err;
    }
  }

  /** The camera's codec, from its description. */
  get codec(): VideoCodec {
    return this.video.codec;
  }

  /** The RTP clock rate of the video stream (90 kHz for H.264 and H.265). */
  get clockRate(): number {
    return this.video.clockRate;
  }

  private async setUp(): Promise<void> {
    // OPTIONS first, as rtspsrc and ffmpeg do: its Public header says whether the camera
    // takes GET_PARAMETER as a keep-alive. Only a refusal of the credentials stops here.
    try {
      const options = await this.request('OPTIONS', this.url, {});
      if (/\bGET_PARAMETER\b/i.test(options.headers.get('public') ?? '')) this.keepaliveMethod = 'GET_PARAMETER';
    } catch (err) {
      if (!(err instanceof RtspError) || err.status === undefined || err.status === 401 || err instanceof RtspRedirect) throw err;
    }
    const described = await this.request('DESCRIBE', this.url, { Accept: 'application/sdp' });
    const base = described.headers.get('content-base') ?? described.headers.get('content-location') ?? this.url;
    const sdp = described.body.toString('utf8');
    const video = parseSdp(sdp);
    if (!video) throw new RtspError(unsupportedVideo(sdp));
    this.video = video;
    this.playUri = controlUrl(base, video.sessionControl);
    this.depay = depayloaderFor(video.codec, video.parameterSets);
    const setup = await this.request('SETUP', controlUrl(base, video.control), { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    const sessionHeader = setup.headers.get('session');
    if (!sessionHeader) throw new RtspError('the camera answered SETUP without a session');
    const [id, ...params] = sessionHeader.split(';');
    this.session = id?.trim();
    const timeout = params.map((p) => /^\s*timeout=(\d+)/i.exec(p)?.[1]).find((t) => t !== undefined);
    if (timeout !== undefined && Number(timeout) > 0) this.keepaliveMs = Math.max(5000, (Number(timeout) * 1000) / 2);
    const transport = setup.headers.get('transport') ?? '';
    const interleaved = /interleaved=(\d+)/i.exec(transport)?.[1];
    if (!/TCP/i.test(transport) && interleaved === undefined && transport !== '') {
      throw new RtspError(`the camera set up ${transport}, not RTP over TCP (461 Unsupported transport)`);
    }
    this.channel = interleaved === undefined ? 0 : Number(interleaved);
    // The camera's other streams are set up too, on channels of their own whose packets
    // are dropped as they are read (never depayloaded, never recorded: policy §1), as
    // rtspsrc did: gst-rtsp-server sharing one media among clients answered 503 to some of
    // eight clients that set up its video alone, and then to every DESCRIBE. A camera
    // that refuses such a SETUP is recorded all the same.
    let next = this.channel + 2;
    // A stream without a control of its own (or the video's) would be the video again.
    const others = (video.otherControls ?? []).filter((c): c is string => c !== undefined && c !== '*' && c !== video.control);
    for (const control of others) {
      try {
        await this.request('SETUP', controlUrl(base, control), { Transport: `RTP/AVP/TCP;unicast;interleaved=${next}-${next + 1}` });
      } catch (err) {
        if (!(err instanceof RtspError) || err.status === undefined) throw err;
      }
      next += 2;
    }
  }

  /** Starts the stream: from now on every access unit goes to `sink`, and the end once. */
  async play(sink: SessionSink): Promise<void> {
    this.sink = sink;
    await this.request('PLAY', this.playUri, { Range: 'npt=0.000-' });
    this.armKeepalive();
  }

  /** Tears the session down (best effort) and closes the connection. Ends nothing through the sink. */
  close(): void {
    this.sink = undefined;
    this.ended = true;
    clearTimeout(this.keepaliveTimer);
    clearInterval(this.stallTimer);
    if (this.pending) {
      clearTimeout(this.pending.timer);
      const pending = this.pending;
      this.pending = undefined;
      pending.reject(new RtspError('the session was closed'));
    }
    if (this.session !== undefined && !this.socket.destroyed) {
      try {
        this.socket.end(this.message('TEARDOWN', this.playUri, {}));
      } catch {
        // closing anyway
      }
      setTimeout(() => this.socket.destroy(), 1000).unref();
    } else {
      this.socket.destroy();
    }
  }

  /**
   * A keep-alive at half the session's timeout. Its answer decides nothing: a camera that
   * answers it oddly (400, 451, 454) or late keeps recording; whether video still comes is
   * the stall check's business. Only a camera without GET_PARAMETER gets OPTIONS next.
   */
  private armKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = setTimeout(() => {
      if (this.ended) return;
      this.request(this.keepaliveMethod, this.playUri, {}).then(
        () => this.armKeepalive(),
        (err: unknown) => {
          if (err instanceof RtspError && err.status !== undefined && this.keepaliveMethod === 'GET_PARAMETER') this.keepaliveMethod = 'OPTIONS';
          this.armKeepalive();
        },
      );
    }, this.keepaliveMs);
    this.keepaliveTimer.unref();
  }

  private message(method: string, uri: string, headers: Record<string, string>): string {
    this.cseq += 1;
    const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${this.cseq}`, `User-Agent: ${USER_AGENT}`];
    if (this.session !== undefined) lines.push(`Session: ${this.session}`);
    if (this.challenge && this.source.user !== undefined) {
      this.nonceCount += 1;
      this.auth = authorization(this.challenge, method, uri, this.source.user, this.source.password ?? '', this.nonceCount);
    }
    if (this.auth) lines.push(`Authorization: ${this.auth}`);
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    return `${lines.join('\r\n')}\r\n\r\n`;
  }

  /** One request and its answer; a 401 is answered once with the credentials. */
  private async request(method: string, uri: string, headers: Record<string, string>, retried = false): Promise<Response> {
    const response = await this.send(method, uri, headers);
    if (response.status === 401 && !retried && this.source.user !== undefined) {
      const challenge = pickChallenge(response.headers.get('www-authenticate')?.split('\n') ?? []);
      if (challenge) {
        if (challengeParams(challenge).get('nonce') !== (this.challenge && challengeParams(this.challenge).get('nonce'))) this.nonceCount = 0;
        this.challenge = challenge;
        return this.request(method, uri, headers, true);
      }
    }
    const location = response.headers.get('location');
    if (REDIRECTS.has(response.status) && location && (method === 'OPTIONS' || method === 'DESCRIBE')) {
      throw new RtspRedirect(location, response.status);
    }
    if (response.status !== 200) {
      throw new RtspError(`the camera answered ${method} with ${response.status} ${response.reason} (${response.status})`, response.status);
    }
    return response;
  }

  private send(method: string, uri: string, headers: Record<string, string>): Promise<Response> {
    if (this.ended || this.socket.destroyed) return Promise.reject(new RtspError('the camera closed the connection'));
    if (this.pending) return Promise.reject(new RtspError(`an RTSP request is already under way (${this.pending.method})`));
    const text = this.message(method, uri, headers);
    const cseq = this.cseq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new RtspError(`the camera did not answer ${method} within ${REQUEST_TIMEOUT_MS / 1000} s (Timeout while waiting for server response)`));
      }, REQUEST_TIMEOUT_MS);
      this.pending = { cseq, method, resolve, reject, timer };
      this.socket.write(text);
    });
  }

  /**
   * Bytes from the socket, in its one reused read buffer: everything needed from them is
   * copied before this returns. A packet or an answer cut by the read's end waits in
   * `carry` for the rest.
   */
  onRead(data: Buffer): void {
    if (this.ended) return;
    try {
      let at = 0;
      if (this.carryLength > 0) {
        at = this.completeCarried(data);
        if (at < 0) return;
      }
      this.keep(data, this.parse(data, at));
    } catch (err) {
      this.finish(err instanceof Error ? err : new RtspError(String(err)));
    }
  }

  /** Parses whole items from `at` on; returns where the first incomplete one starts. */
  private parse(data: Buffer, from: number): number {
    let at = from;
    while (at < data.length) {
      const byte = data[at];
      if (byte === 0x24) {
        // RFC 2326 10.12: $, channel, length (2 bytes), packet
        if (data.length - at < 4) break;
        const length = data.readUInt16BE(at + 2);
        if (data.length - at < 4 + length) break;
        if (data[at + 1] === this.channel) this.onRtp(data.subarray(at + 4, at + 4 + length));
        at += 4 + length;
        continue;
      }
      if (byte === 0x0d || byte === 0x0a || byte === 0x20 || byte === 0x09) {
        at += 1; // a stray line end between messages (some cameras send one after a body)
        continue;
      }
      if (!mayStartMessage(data, at)) {
        // Neither RTP nor an RTSP message. Before the stream plays that is not an RTSP
        // camera; while it plays, the bytes are skipped up to the next '$'.
        if (!this.sink) throw new RtspError('the camera sent something that is neither RTP nor an RTSP answer');
        const next = data.indexOf(0x24, at + 1);
        at = next < 0 ? data.length : next;
        continue;
      }
      const used = this.onResponse(data, at);
      if (used === 0) break;
      at += used;
    }
    return at;
  }

  /** Copies what is left from `at` (one incomplete item) into the carry. */
  private keep(data: Buffer, at: number): void {
    const rest = data.length - at;
    if (rest === 0) return;
    if (this.carryLength + rest > MAX_CARRY_BYTES) throw new RtspError('the camera sent something that is neither RTP nor an RTSP answer');
    if (this.carryLength + rest > this.carry.length) {
      const bigger = Buffer.allocUnsafe(Math.min(MAX_CARRY_BYTES, Math.max(this.carryLength + rest, 2 * this.carry.length)));
      this.carry.copy(bigger, 0, 0, this.carryLength);
      this.carry = bigger;
    }
    data.copy(this.carry, this.carryLength, at);
    this.carryLength += rest;
  }

  /**
   * Completes the item waiting in the carry from the front of `data`: returns how much of
   * `data` it took, or -1 when `data` was all taken (still incomplete, or handled here).
   */
  private completeCarried(data: Buffer): number {
    if (this.carry[0] !== 0x24) return this.completeCarriedText(data);
    let used = 0;
    if (this.carryLength < 4) {
      used = Math.min(4 - this.carryLength, data.length);
      this.keep(data.subarray(0, used), 0);
      if (this.carryLength < 4) return -1;
    }
    const total = 4 + this.carry.readUInt16BE(2);
    const take = Math.min(total - this.carryLength, data.length - used);
    this.keep(data.subarray(used, used + take), 0);
    used += take;
    if (this.carryLength < total) return -1;
    this.carryLength = 0;
    if (this.carry[1] === this.channel) this.onRtp(this.carry.subarray(4, total));
    return used;
  }

  /**
   * An RTSP message cut by reads (a keep-alive's answer, now and then). Each read is
   * looked at once: where the header's end was searched up to, and once found how long
   * the whole message is, are remembered, so a camera that dribbles a large answer a byte
   * at a time costs each byte once, not the whole answer again.
   */
  private completeCarriedText(data: Buffer): number {
    this.keep(data, 0);
    if (this.textNeed === 0) {
      const end = headerEnd(this.carry, Math.max(0, this.textScanned - 3), this.carryLength);
      this.textScanned = this.carryLength;
      if (end < 0) {
        if (this.carryLength > MAX_HEADER_BYTES) throw new RtspError('the camera sent an RTSP header larger than 64 KiB');
        return -1;
      }
      this.textNeed = end + contentLength(this.carry.toString('latin1', 0, end));
    }
    if (this.carryLength < this.textNeed) return -1;
    const joined = Buffer.from(this.carry.subarray(0, this.carryLength));
    this.carryLength = 0;
    this.textNeed = 0;
    this.textScanned = 0;
    this.keep(joined, this.parse(joined, 0));
    return -1;
  }

  /** Parses an RTSP message at `at`; returns the bytes it took, 0 if it is not all here yet. */
  private onResponse(data: Buffer, at: number): number {
    const end = headerEnd(data, at, data.length);
    if (end < 0) {
      if (data.length - at > MAX_HEADER_BYTES) throw new RtspError('the camera sent an RTSP header larger than 64 KiB');
      return 0;
    }
    const head = data.toString('latin1', at, end).split(/\r?\n/);
    const status = /^RTSP\/\d\.\d\s+(\d{3})\s*(.*)$/.exec(head[0] ?? '');
    const headers = new Map<string, string>();
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(key, headers.has(key) ? `${headers.get(key) ?? ''}\n${value}` : value);
    }
    const length = contentLength(data.toString('latin1', at, end));
    const total = end - at + length;
    if (data.length - at < total) return 0;
    const body = Buffer.from(data.subarray(end, end + length));
    const cseq = headers.get('cseq');
    if (!status) {
      // A request from the camera (some send OPTIONS, ANNOUNCE or SET_PARAMETER): refused politely.
      if (/^[A-Z_]+ \S+ RTSP\/\d\.\d$/.test(head[0] ?? '') && cseq !== undefined && /^\d+$/.test(cseq)) {
        this.socket.write(`RTSP/1.0 501 Not Implemented\r\nCSeq: ${cseq}\r\n\r\n`);
        return total;
      }
      if (/^[A-Z_]+ \S+ RTSP\/\d\.\d$/.test(head[0] ?? '')) return total;
      throw new RtspError('the camera sent something that is neither RTP nor an RTSP answer');
    }
    const pending = this.pending;
    if (pending && Number(cseq) === pending.cseq) {
      clearTimeout(pending.timer);
      this.pending = undefined;
      pending.resolve({ status: Number(status[1]), reason: status[2] ?? '', headers, body });
    }
    return total;
  }

  private onRtp(packet: Buffer): void {
    this.packets += 1;
    this.bytes += packet.length;
    if (packet.length < 12 || packet[0]! >> 6 !== 2) return;
    if ((packet[1]! & 0x7f) !== this.video.payloadType) return;
    this.depay.push(packet, this.emit);
  }

  private readonly emit = (unit: AccessUnit): void => {
    this.lastUnitAt = performance.now();
    this.sink?.unit(unit);
  };

  /**
   * Ends the session when no frame has come for `ms` (checked every second): a camera
   * that stops sending without closing the connection (hung, or a link that died without
   * a reset) is noticed in seconds, not at the next keep-alive. Armed by the caller once
   * video flows.
   */
  stallAfter(ms: number): void {
    if (this.stallTimer || this.ended) return;
    this.lastUnitAt = performance.now();
    this.stallTimer = setInterval(() => {
      if (performance.now() - this.lastUnitAt > ms) this.finish(new RtspError(`no video from the camera for ${ms / 1000} s`));
    }, STALL_CHECK_MS);
    this.stallTimer.unref();
  }

  private finish(error: Error): void {
    if (this.pending) {
      clearTimeout(this.pending.timer);
      const pending = this.pending;
      this.pending = undefined;
      pending.reject(error);
    }
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.keepaliveTimer);
    clearInterval(this.stallTimer);
    this.socket.destroy();
    const sink = this.sink;
    this.sink = undefined;
    sink?.end(error);
  }
}

/** Where a connection's reads go: set once the session that owns the connection exists. */
interface Reader {
  target: ((data: Buffer) => void) | undefined;
}

/**
 * A TCP connection to the camera, or the socket's error (ECONNREFUSED, EHOSTUNREACH, a
 * timeout). Reads land in one buffer the socket reuses (`onread`), handed to `reader`.
 */
function connectTo(host: string, port: number, reader: Reader): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (bytes: number, buffer: Uint8Array): boolean => {
          reader.target?.(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
          return true;
        },
      },
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new RtspError(`Failed to connect: no answer from ${host}:${port} within ${REQUEST_TIMEOUT_MS / 1000} s (ETIMEDOUT)`));
    }, REQUEST_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
