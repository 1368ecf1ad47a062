import { join } from 'node:path';
import { systemClock, type Clock, type Timer } from '../clock.js';
import type { Logger } from '../log.js';
import { redactUrls } from '../log.js';
import type { GapCause } from '../store/segments.js';
import type { VideoCodec } from '../store/mp4.js';
import type { GapEntry, SegmentStore } from '../store/segments.js';
import { SUSPENSION_KINDS, type CameraReport, type CameraRuntime, type CameraState, type Suspension, type SuspensionKind } from './runtime.js';
import { AUTH_RETRY_MS, backoffMs } from './backoff.js';
import type { TransportMode } from '../config/types.js';
import { FEED_ELEMENT, LIVE_ELEMENTS, STALL_ELEMENT, STALL_MS, type PipelinePlan, type Transport } from './description.js';
import { tcpReachable, type Endpoint } from './reachability.js';
import { collectSoon, createPipeline, runningTimeMs, type BusMessage, type GstPipeline } from './gst.js';
import { LiveFeed } from './liveFeed.js';
import { RtspSession } from './rtspClient.js';
import { feedPipeline } from './rtspFeed.js';

export interface RecorderOptions {
  name: string;
  segmentSeconds: number;
  store: SegmentStore;
  log: Logger;
  /**
   * Builds the pipeline plan; called on every connect (credentials and ONVIF URIs are
   * read afresh). `codec` is what the camera sent last, when known; `transport` how RTP
   * should come (RTSP cameras).
   */
  plan: (codec: VideoCodec | undefined, transport: Transport) => Promise<PipelinePlan>;
  /** RTSP and ONVIF cameras: which RTP transports to use; undefined for others. */
  transport?: TransportMode;
  clock?: Clock;
  createPipeline?: (description: string) => GstPipeline;
  /** A wall-clock step was seen (once per pipeline run): libcamd writes it to the audit trail. */
  onClockStep?: (step: ClockStep) => void;
}

export interface ClockStep {
  /** `forward`/`backward`: the wall clock moved against the pipeline clock during a run;
   * `behind-last-segment`: a new run would have started before the last segment ended. */
  kind: 'forward' | 'backward' | 'behind-last-segment';
  driftMs: number;
}

interface Failure {
  reason: string;
  /** The camera refused the credentials: retry slowly, show state `error`. */
  auth: boolean;
  /** Nothing answered at the camera's address: it is off, unplugged or rebooting. */
  unreachable?: boolean;
  /** The camera refused the RTP transport asked for (461 Unsupported transport), or none arrived over UDP. */
  transport?: boolean;
}

/** What an error's text means to the person reading `libcam status`. */
function classifyText(text: string, fallback: string): Failure {
  if (/\(401\)|Unauthori[sz]ed|NotAuthori[sz]ed|not authori[sz]ed/i.test(text)) {
    return { reason: 'the camera refused the credentials (401 Unauthorized): check its credentialsFile', auth: true };
  }
  if (/\(404\)|Not Found/i.test(text)) return { reason: 'the camera has no stream at that URL (404 Not Found)', auth: false };
  // rtspsrc's words for a SETUP answered 461 Unsupported transport, and for UDP that never came.
  if (/No supported stream was found|Unsupported transport|\(461\)/i.test(text)) {
    return { reason: 'the camera refused the RTP transport (461 Unsupported transport)', auth: false, transport: true };
  }
  if (/Could not receive any UDP packets/i.test(text)) {
    return { reason: 'no RTP arrived over UDP (a firewall between the camera and this box?)', auth: false, transport: true };
  }
  // rtspsrc's words for a request that got no answer: something accepts connections at the
  // camera's address and then says nothing (a hung camera, or not an RTSP server).
  if (/Timeout while waiting for server response/i.test(text)) {
    return { reason: 'the camera accepted the connection but never answered (RTSP request timed out)', auth: false };
  }
  if (/ECONNRESET|closed the connection/i.test(text)) {
    return { reason: 'the camera closed the connection', auth: false };
  }
  if (/Could not open resource|Failed to connect|Connection refused|ECONNREFUSED|EHOSTUNREACH|ETIMEDOUT/i.test(text)) {
    return { reason: 'cannot connect to the camera (refused, unreachable or timed out)', auth: false, unreachable: true };
  }
  return { reason: redactUrls(fallback), auth: false };
}

/** What a GStreamer error means to the person reading `libcam status`. */
export function classifyError(message: BusMessage): Failure {
  const text = `${message.message ?? ''} ${message.debug ?? ''} ${message.details ?? ''}`;
  return classifyText(text, `camera stream failed: ${message.message ?? 'unknown GStreamer error'}`);
}

/** Clock steps larger than this between the anchored segment time and the wall clock are logged. */
const CLOCK_STEP_MS = 5000;
const EOS_WAIT_MS = 5000;
/** A new part this far before the last segment's end is the wall clock stepping back, not jitter. */
const BEHIND_STEP_MS = 1000;
/** While waiting to retry, how often to check whether a camera that went away is back. */
const PROBE_INTERVAL_MS = 1000;
/** How long a retry's knock waits for the camera's TCP port (a slow link still answers). */
const KNOCK_TIMEOUT_MS = 5000;
/** Retries that found nothing listening before one builds a pipeline anyway (~10 min at the 30 s backoff). */
const KNOCKS_BEFORE_BUILD = 20;

/**
 * One camera's recorder: builds its pipeline, follows the bus, turns fragment messages
 * into indexed segments, and on trouble tears the pipeline down, indexes what was
 * written, records a gap and retries with backoff. Segment times are the wall clock read
 * once when the pipeline starts (the anchor) plus the pipeline's running time.
 */
export class Recorder implements CameraRuntime {
  readonly name: string;
  readonly live: LiveFeed;
  private readonly clock: Clock;
  private readonly log: Logger;
  private state: CameraState = 'connecting';
  private since: number;
  private reason: string | null = null;
  private lastSegmentEnd: number | null = null;
  private pipeline: GstPipeline | undefined;
  private plan: PipelinePlan | undefined;
  /** The camera's codec: undefined until learnt from a segment, null once it proved wrong. */
  private codec: VideoCodec | null | undefined;
  private run = 0;
  private anchor = 0;
  private failures = 0;
  private stopped = false;
  private retryTimer: Timer | undefined;
  private probeTimer: Timer | undefined;
  private watchdogTimer: Timer | undefined;
  private readonly openStarts = new Map<string, number>();
  private gap: GapEntry | undefined;
  private eosWaiter: (() => void) | undefined;
  private readonly suspensions = new Map<SuspensionKind, Suspension>();
  /** The RTP transport the next connect asks for. */
  private transport: Transport;
  /** The reason the pipeline and the gap reflect now (undefined: recording or trying to). */
  private applied: Suspension | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private started = false;
  private stepNotedRun = -1;
  private stallArmedRun = -1;
  /** Retries in a row that found nothing listening and built no pipeline. */
  private knocks = 0;
  /** Closes the live branch's pipe once the pipeline is stopped. */
  private detachLive: (() => void) | undefined;
  /** libcam's RTSP client session feeding the pipeline, when it does (RTP over TCP). */
  private session: RtspSession | undefined;

  constructor(private readonly opts: RecorderOptions) {
    this.name = opts.name;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log;
    this.since = this.clock.now();
    this.transport = opts.transport === 'udp' ? 'udp' : 'tcp';
    this.live = new LiveFeed(this.name, this.log);
  }

  status(): CameraReport {
    return {
      name: this.name,
      state: this.state,
      since: this.since,
      lastSegmentEnd: this.lastSegmentEnd,
      reason: this.reason,
      suspensions: this.suspendedBy().map(({ kind, reason }) => ({ kind, reason })),
      transport: this.opts.transport === undefined ? null : this.transport,
      liveViewers: this.live.viewers,
    };
  }

  /** The file being recorded into now and when it starts: where a live still comes from. */
  liveSegment(): { file: string; start: number } | undefined {
    if (this.state !== 'recording') return undefined;
    let newest: { file: string; start: number } | undefined;
    for (const [file, start] of this.openStarts) if (!newest || start > newest.start) newest = { file, start };
    return newest;
  }

  /** Reconciles what the last run left, then connects. Never throws for camera trouble. */
  async start(): Promise<void> {
    const { store } = this.opts;
    await store.prepare(this.name);
    await store.recover(this.name);
    const head = await store.chainHead(this.name);
    this.lastSegmentEnd = head?.end ?? null;
    const open = await store.openGap(this.name);
    this.started = true;
    const suspension = this.suspendedBy()[0];
    this.applied = suspension;
    if (!suspension) {
      this.gap = open ?? (head ? await store.beginGap(this.name, head.end, 'daemon-down') : undefined);
      this.connect();
      return;
    }
    // Suspended before it started (a pause that outlived a restart): the paused gap goes
    // on if it was already open; otherwise the downtime is daemon-down and the pause starts now.
    this.setState(suspension.state, suspension.reason);
    if (open?.cause === suspension.cause) {
      this.gap = open;
      return;
    }
    const now = this.clock.now();
    const down = open ?? (head ? await store.beginGap(this.name, head.end, 'daemon-down') : undefined);
    if (down) await store.endGap(down, now);
    this.gap = await store.beginGap(this.name, now, suspension.cause);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.closeAndIndex();
  }

  /**
   * Adds (or updates) one owner's reason not to record. The first reason closes and
   * indexes the open segment and opens a gap with the reason's cause; later ones only
   * change what the camera shows, and the gap's label when the reason shown changes
   * (privacy -> maintenance, pause -> disk-full).
   */
  async suspend(suspension: Suspension): Promise<void> {
    this.suspensions.set(suspension.kind, suspension);
    await this.reconcile();
  }

  /** Removes one owner's reason; the camera records again once no reason is left. */
  async unsuspend(kind: SuspensionKind): Promise<void> {
    if (this.suspensions.delete(kind)) await this.reconcile();
  }

  /** Every reason that applies now, the one shown first. */
  suspendedBy(): Suspension[] {
    return SUSPENSION_KINDS.flatMap((kind) => this.suspensions.get(kind) ?? []);
  }

  /**
   * Brings the pipeline and the gap in line with the reasons, one change at a time (closing
   * a pipeline takes seconds: a pause and its early resume must not overtake each other).
   */
  private reconcile(): Promise<void> {
    const next = this.reconciling.then(() => this.reconcileNow());
    this.reconciling = next.catch((err: unknown) => this.log.error({ err }, 'cannot apply a suspension'));
    return next;
  }

  private async reconcileNow(): Promise<void> {
    const want = this.suspendedBy()[0];
    if (want) this.setState(want.state, want.reason);
    if (!this.started || this.stopped) return; // start() takes it from here
    const had = this.applied;
    this.applied = want;
    if (want && !had) {
      this.log.warn({ reason: want.reason }, 'recording suspended');
      await this.closeAndIndex();
      await this.switchGap(want.cause);
    } else if (want && had && want.cause !== had.cause) {
      await this.switchGap(want.cause);
    } else if (!want && had) {
      this.failures = 0;
      this.log.info('recording resumes');
      this.connect();
    }
  }

  /**
   * Ends the open gap now and opens one with `cause`; with no gap open, the new one starts
   * where the footage ends.
   */
  private switchGap(cause: GapCause): Promise<void> {
    const { store } = this.opts;
    return store.enqueue(this.name, async () => {
      const now = this.clock.now();
      if (this.gap) await store.endGap(this.gap, now);
      this.gap = await store.beginGap(this.name, this.gap ? now : (this.lastSegmentEnd ?? now), cause);
    });
  }

  /** Closes the pipeline and indexes whatever the run left half-written. */
  private async closeAndIndex(): Promise<void> {
    await this.closePipeline();
    const recovered = await this.opts.store.recover(this.name);
    this.noteSegments(recovered.map((s) => s.end));
  }

  /** Ends the current run: EOS first where it reaches the muxer, so the open file closes properly. */
  private async closePipeline(): Promise<void> {
    this.retryTimer?.cancel();
    this.probeTimer?.cancel();
    this.watchdogTimer?.cancel();
    const pipeline = this.pipeline;
    // Nothing more from the camera: the EOS below is the stream's last word.
    this.session?.close();
    this.session = undefined;
    if (pipeline && this.plan?.eosReachesSink) {
      // A camera that is gone cannot deliver EOS: wait a bounded time, then let recovery
      // index what was written.
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, EOS_WAIT_MS);
        this.eosWaiter = () => {
          timer.cancel();
          resolve();
        };
        this.live.openForEos();
        pipeline.sendEOS();
      });
    }
    this.teardown();
    await this.opts.store.enqueue(this.name, () => Promise.resolve());
  }

  private setState(state: CameraState, reason: string | null): void {
    if (state !== this.state) this.since = this.clock.now();
    this.state = state;
    this.reason = reason;
  }

  private connect(): void {
    // Errors before the pipeline runs: an ONVIF device that refuses or does not answer,
    // an unreadable credentials file, and what libcam's RTSP client meets before the
    // stream plays (a refusal, a 401, a request that times out).
    const attempt = this.connectOnce();
    const run = this.run; // connectOnce numbers its run before it first waits
    attempt.catch((err: unknown) => {
      const text = err instanceof Error ? err.message : String(err);
      this.fail(run, classifyText(text, text));
    });
  }

  private async connectOnce(): Promise<void> {
    if (this.stopped || this.suspensions.size > 0) return;
    this.retryTimer?.cancel();
    this.probeTimer?.cancel();
    const run = ++this.run;
    this.knocks = 0;
    this.setState('connecting', this.reason); // the last error's reason stays until video flows
    if (this.codec === undefined) this.codec = await this.opts.store.lastCodec(this.name);
    const plan = await this.opts.plan(this.codec ?? undefined, this.transport);
    if (run !== this.run || this.stopped) return;
    this.plan = plan;
    // libcam's own RTSP client: the session is set up before the pipeline is built, so the
    // pipeline is made for the codec the camera describes now.
    let session: RtspSession | undefined;
    if (plan.feed) {
      session = await RtspSession.open(plan.feed.source);
      if (run !== this.run || this.stopped || this.suspensions.size > 0) {
        session.close();
        return;
      }
      if (this.codec !== session.codec) {
        if (this.codec) this.log.info({ was: this.codec, now: session.codec }, 'the camera sends another codec now');
        this.codec = session.codec;
      }
    }
    const description = session && plan.feed ? plan.feed.description(session.codec) : plan.description;
    let pipeline: GstPipeline;
    try {
      pipeline = (this.opts.createPipeline ?? createPipeline)(description);
    } catch (err) {
      session?.close();
      throw err;
    }
    // Owned from here on: a failure below tears both down (teardown()).
    this.session = session;
    this.pipeline = pipeline;
    for (const [elementName, properties] of Object.entries(plan.properties)) {
      const element = pipeline.findChild(elementName);
      if (!element) throw new Error(`pipeline has no element named ${elementName}`);
      for (const [key, value] of Object.entries(properties)) element[key] = value;
    }
    const sink = pipeline.findChild('sink');
    if (!sink) throw new Error('pipeline has no element named sink');
    this.anchor = this.clock.now();
    sink['location'] = join(this.opts.store.incomingDir(this.name), `${this.anchor}-%05d.mp4`);
    this.detachLive = this.live.attach(pipeline);
    pipeline.pollBus((message) => this.onMessage(run, message));
    pipeline.play();
    this.armWatchdog(run);
    if (session) {
      const feed = pipeline.findChild(FEED_ELEMENT);
      if (!feed) throw new Error(`pipeline has no element named ${FEED_ELEMENT}`);
      const ended = (err: Error): void => this.fail(run, classifyText(err.message, err.message));
      await feedPipeline(session, feed, STALL_MS, ended);
    }
  }

  private onMessage(run: number, message: BusMessage): void {
    if (run !== this.run) return;
    switch (message.type) {
      case 'element':
        if (message.name === 'splitmuxsink-fragment-opened') this.onOpened(run, message);
        else if (message.name === 'splitmuxsink-fragment-closed') this.onClosed(run, message);
        break;
      case 'error':
        if (LIVE_ELEMENTS.includes(message._src_element_name ?? '')) {
          // The live view's branch, not the recording: it is shut for this run.
          this.log.warn({ element: message._src_element_name, error: message.message ?? '' }, 'live view branch failed; no live picture until the next run');
          this.live.disable();
          break;
        }
        if (message._src_element_name === STALL_ELEMENT) {
          this.fail(run, { reason: `no video from the camera for ${STALL_MS / 1000} s`, auth: false });
          break;
        }
        this.log.warn({ error: redactUrls(message.message ?? ''), debug: redactUrls(message.debug ?? '') }, 'pipeline error');
        if (this.codec && /not-linked/.test(message.debug ?? '')) {
          // Nothing matched the codec of the last recording: the camera was reconfigured.
          this.log.info({ codec: this.codec }, 'the camera no longer sends its last codec; listening for any');
          this.codec = null;
        }
        this.fail(run, classifyError(message));
        break;
      case 'eos':
        if (this.eosWaiter) this.eosWaiter();
        else this.fail(run, { reason: 'the camera ended the stream', auth: false });
        break;
      default:
        break;
    }
  }

  private onOpened(run: number, message: BusMessage): void {
    const location = message.location;
    const rt = runningTimeMs(message);
    if (location === undefined || rt === undefined) return;
    let start = this.anchor + rt;
    if (this.lastSegmentEnd !== null && start < this.lastSegmentEnd) {
      // Never write overlapping footage: this run moves forward. A part may open a fraction
      // of a millisecond before the last one closed (splitmuxsink's two running times); only
      // a real step of the wall clock goes on record.
      const behind = this.lastSegmentEnd - start;
      if (behind >= BEHIND_STEP_MS) {
        this.log.warn({ behindMs: Math.round(behind) }, 'wall clock is behind the last segment; shifting this run forward');
        this.noteClockStep(run, { kind: 'behind-last-segment', driftMs: -Math.round(behind) });
      }
      this.anchor += behind;
      start = this.lastSegmentEnd;
    }
    this.openStarts.set(location, start);
    this.armStallWatchdog(run);
    // While a suspension closes the pipeline (EOS can take seconds) a new fragment may still
    // open: it is indexed, but the camera stays paused or in error, not 'recording'.
    if (this.state !== 'recording' && this.suspensions.size === 0) {
      this.setState('recording', null);
      this.log.info('recording');
    }
    const { store } = this.opts;
    store.opened(this.name, location, start).catch((err: unknown) => this.log.error({ err }, 'cannot note an open segment'));
    void store
      .enqueue(this.name, async () => {
        const gap = this.gap;
        this.gap = undefined;
        if (gap) await store.endGap(gap, start);
      })
      .catch((err: unknown) => this.log.error({ err }, 'cannot close the gap'));
    this.armWatchdog(run);
  }

  /** Video flows: from now on STALL_MS without a frame is a lost camera (once per run). */
  private armStallWatchdog(run: number): void {
    if (this.stallArmedRun === run) return;
    this.stallArmedRun = run;
    const stall = this.pipeline?.findChild(STALL_ELEMENT);
    if (stall) stall['timeout'] = STALL_MS;
  }

  /** Reports a clock step once per run: every later segment of the run would report it again. */
  private noteClockStep(run: number, step: ClockStep): void {
    if (this.stepNotedRun === run) return;
    this.stepNotedRun = run;
    this.opts.onClockStep?.(step);
  }

  private onClosed(run: number, message: BusMessage): void {
    const location = message.location;
    const rt = runningTimeMs(message);
    if (location === undefined || rt === undefined) return;
    const start = this.openStarts.get(location);
    this.openStarts.delete(location);
    if (start === undefined) return;
    const end = this.anchor + rt;
    const drift = this.clock.now() - end;
    if (Math.abs(drift) > CLOCK_STEP_MS + this.opts.segmentSeconds * 1000) {
      this.log.warn({ driftMs: Math.round(drift) }, 'wall clock stepped during this run; segment times follow the pipeline clock');
      this.noteClockStep(run, { kind: drift > 0 ? 'forward' : 'backward', driftMs: Math.round(drift) });
    }
    this.opts.store.closed(this.name, location, start, end).then(
      (entry) => {
        this.noteSegments([entry.end]);
        this.failures = 0;
        if (!this.codec) this.learnCodec();
      },
      (err: unknown) => this.log.error({ err, file: location }, 'cannot index a segment'),
    );
    this.armWatchdog(run);
  }

  private learnCodec(): void {
    this.opts.store.lastCodec(this.name).then(
      (codec) => {
        if (codec) this.codec = codec;
      },
      (err: unknown) => this.log.warn({ err }, 'cannot read the codec of the last segment'),
    );
  }

  private noteSegments(ends: number[]): void {
    for (const end of ends) this.lastSegmentEnd = Math.max(this.lastSegmentEnd ?? end, end);
  }

  private armWatchdog(run: number): void {
    this.watchdogTimer?.cancel();
    const limit = 3 * this.opts.segmentSeconds * 1000;
    this.watchdogTimer = this.clock.setTimeout(
      () => this.fail(run, { reason: `no video from the camera for ${limit / 1000} s`, auth: false }),
      limit,
    );
  }

  private teardown(): void {
    this.run += 1;
    this.watchdogTimer?.cancel();
    const pipeline = this.pipeline;
    this.pipeline = undefined;
    this.eosWaiter = undefined;
    this.openStarts.clear();
    this.session?.close();
    this.session = undefined;
    pipeline?.stop(); // NULL state: releases the pool thread parked on its bus
    this.detachLive?.();
    this.detachLive = undefined;
    if (pipeline) collectSoon();
  }

  /**
   * A camera that refuses RTP over TCP (some cameras and encoders offer only UDP): with
   * transport auto, UDP next and from then on until libcamd restarts; otherwise, or when
   * UDP fails too, state error with the refusal named, retried slowly.
   */
  private transportFailure(failure: Failure): { failure: Failure; stuck: boolean; now: boolean } {
    const mode = this.opts.transport;
    if (mode === 'auto' && this.transport === 'tcp') {
      this.transport = 'udp';
      this.log.warn({ reason: failure.reason }, 'the camera refused RTP over TCP; trying UDP, and keeping UDP until libcamd restarts');
      return { failure: { ...failure, reason: `the camera refused RTP over TCP (461 Unsupported transport); trying UDP` }, stuck: false, now: true };
    }
    const tried = this.transport;
    const reason =
      mode === 'auto'
        ? `the camera refused RTP over TCP (461 Unsupported transport), and over UDP: ${failure.reason}`
        : `the camera refused RTP over ${tried.toUpperCase()}: ${failure.reason}; set source.transport to ${tried === 'tcp' ? 'udp' : 'tcp'} or auto`;
    if (mode === 'auto') this.transport = 'tcp'; // the next try starts over: the camera may have been reconfigured
    return { failure: { ...failure, reason }, stuck: true, now: false };
  }

  private fail(run: number, failed: Failure): void {
    if (!this.stillCurrent(run)) return;
    this.teardown();
    this.failures += 1;
    const { failure, stuck, now } =
      failed.transport && this.opts.transport !== undefined ? this.transportFailure(failed) : { failure: failed, stuck: failed.auth, now: false };
    const delay = now ? 0 : stuck ? AUTH_RETRY_MS : backoffMs(this.failures);
    this.setState(stuck ? 'error' : 'backoff', failure.reason);
    this.log.warn({ reason: failure.reason, retryInMs: delay }, 'camera lost');
    const { store } = this.opts;
    const recovered = store.recover(this.name);
    void store
      .enqueue(this.name, async () => {
        this.noteSegments((await recovered).map((s) => s.end));
        this.gap ??= await store.beginGap(this.name, this.lastSegmentEnd ?? this.clock.now(), 'camera-lost');
      })
      .catch((err: unknown) => this.log.error({ err }, 'cannot record the outage'));
    const endpoint = this.plan?.endpoint;
    const probing = !stuck && !now && endpoint !== undefined;
    const failedRun = this.run;
    this.retryTimer = this.clock.setTimeout(() => (probing ? this.retryIfReachable(failedRun, endpoint) : this.connect()), delay);
    if (probing) this.probeUntilBack(this.run, endpoint, failure.unreachable === true);
  }

  /** Whether the outcome of `run`'s failure still decides: no newer run, no stop, no suspension. */
  private stillCurrent(run: number): boolean {
    return run === this.run && !this.stopped && this.suspensions.size === 0;
  }

  /**
   * A retry that first knocks: while nothing listens at the camera's address, no pipeline
   * is built, only the next retry armed. Every pipeline built and dropped leaves about
   * 0.1 MB behind in GStreamer (BENCHMARKS.md, Memory across camera reconnects), and a camera
   * unplugged for a week would otherwise cost 20,000 of them.
   */
  private retryIfReachable(run: number, endpoint: Endpoint): void {
    this.knock(run, endpoint).catch((err: unknown) => {
      this.log.warn({ err }, 'cannot probe the camera');
      if (this.stillCurrent(run)) this.connect();
    });
  }

  private async knock(run: number, endpoint: Endpoint): Promise<void> {
    const up = await tcpReachable(endpoint, KNOCK_TIMEOUT_MS);
    if (!this.stillCurrent(run)) return;
    // Every KNOCKS_BEFORE_BUILD-th retry builds anyway: the knock may be wrong (a camera
    // behind something that drops bare connects, an ONVIF device that moved its stream).
    if (up || ++this.knocks >= KNOCKS_BEFORE_BUILD) {
      this.connect();
      return;
    }
    this.failures += 1;
    // What would stop the camera once it answers is still checked and shown: the plan reads
    // the credentials file afresh (a file made readable by others is refused on every read).
    let reason = 'cannot connect to the camera (nothing answers at its address)';
    try {
      await this.opts.plan(this.codec ?? undefined, this.transport);
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      reason = classifyText(text, text).reason;
    }
    if (!this.stillCurrent(run)) return;
    this.setState('backoff', reason);
    this.retryTimer = this.clock.setTimeout(() => this.retryIfReachable(run, endpoint), backoffMs(this.failures));
  }

  /**
   * Backoff keeps a broken camera from being hammered, but a camera that was switched off
   * should be recorded again as soon as it is back: while waiting, a plain TCP connect
   * checks its port every second, and once the port has been seen closed and then open
   * again, the retry happens at once.
   */
  private probeUntilBack(run: number, endpoint: Endpoint, sawDown: boolean): void {
    this.probeTimer = this.clock.setTimeout(() => {
      tcpReachable(endpoint, PROBE_INTERVAL_MS).then(
        (up) => {
          if (run !== this.run || this.stopped) return;
          if (up && sawDown) {
            this.log.info('the camera answers again; reconnecting now');
            this.connect();
          } else {
            this.probeUntilBack(run, endpoint, sawDown || !up);
          }
        },
        (err: unknown) => this.log.warn({ err }, 'cannot probe the camera'),
      );
    }, PROBE_INTERVAL_MS);
  }
}
