import { createHash } from 'node:crypto';
import { readFile, statfs } from 'node:fs/promises';
import { systemClock, type Clock, type Timer } from '../clock.js';
import type { CameraConfig, Config } from '../config/types.js';
import { parseDuration, parseSize } from '../config/units.js';
import type { Logger } from '../log.js';
import type { AuditEntryInfo, Methods, StatusResult } from '../protocol.js';
import { AuditTrail, auditActor, type AuditInput } from '../store/audit.js';
import { fsck } from '../store/fsck.js';
import { Holds } from '../store/holds.js';
import { checkStoreIdentity } from '../store/identity.js';
import { IndexDb } from '../store/indexDb.js';
import { Pruner } from '../store/retention.js';
import { SegmentStore } from '../store/segments.js';
import { VERSION } from '../version.js';
import type { CameraRuntime } from '../pipeline/runtime.js';
import { CameraSet } from './cameraSet.js';
import { Dispatcher } from './dispatcher.js';
import { DiskGuard } from './diskGuard.js';
import { doctor, requireElements } from './doctor.js';
import { gidOf } from './group.js';
import { holdMethods } from './holdMethods.js';
import type { CameraDeps } from './makeCamera.js';
import { Outbox } from './outbox.js';
import { Pauses } from './pauses.js';
import { listRecordings } from './recordings.js';
import { SdNotify } from './sdNotify.js';
import { SocketServer } from './socketServer.js';
import { Stills } from './stills.js';
import { StoreLock } from './storeLock.js';

/** How often systemd's STATUS= line is brought up to date (when it changed). */
const STATUS_INTERVAL_MS = 2000;

export interface DaemonOptions {
  config: Config;
  configFile: string;
  log: Logger;
  makeCamera: (camera: CameraConfig, deps: CameraDeps) => CameraRuntime;
  notify?: SdNotify;
  /** The one clock of every component (tests pass one they move). */
  clock?: Clock;
}

interface Component {
  name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/**
 * The composition root: builds every component (no I/O in constructors), starts them
 * in order, and stops the started ones in reverse. READY=1 is sent only once the
 * control socket answers.
 */
export class Daemon {
  private readonly clock: Clock;
  private readonly startedAt: number;
  private readonly index: IndexDb;
  private readonly store: SegmentStore;
  readonly holds: Holds;
  private readonly pruner: Pruner;
  private readonly audit: AuditTrail;
  private readonly pauses: Pauses;
  private readonly guard: DiskGuard;
  private readonly outbox: Outbox;
  private readonly stills: Stills;
  private readonly cameras: CameraSet;
  private readonly socket: SocketServer;
  private readonly lock: StoreLock;
  private readonly notify: SdNotify;
  private started: Component[] = [];
  private statusTimer: Timer | undefined;

  constructor(private readonly opts: DaemonOptions) {
    const { config, log } = opts;
    const clock = (this.clock = opts.clock ?? systemClock);
    this.startedAt = clock.now();
    this.notify = opts.notify ?? new SdNotify();
    this.lock = new StoreLock(config.store.path, config.socket.path);
    this.index = new IndexDb(config.index.path);
    this.store = new SegmentStore(this.index, config.store.path, log.child({ component: 'store' }));
    this.holds = new Holds(this.index, this.store, clock);
    this.audit = new AuditTrail(this.index, log.child({ component: 'audit' }), clock);
    const audit = (input: AuditInput): Promise<unknown> => this.audit.append(input);
    this.pruner = new Pruner({ config, store: this.store, holds: this.holds, index: this.index, log: log.child({ component: 'retention' }), audit, clock });
    const deps: CameraDeps = { store: this.store, segmentSeconds: config.store.segmentSeconds, log, audit, clock };
    this.cameras = new CameraSet(config.cameras, (camera) => opts.makeCamera(camera, deps), log.child({ component: 'cameras' }));
    this.pauses = new Pauses({
      index: this.index,
      cameras: this.cameras,
      names: config.cameras.map((c) => c.name),
      maxDurationMs: parseDuration(config.pause.maxDuration) ?? 8 * 3_600_000,
      maxDurationText: config.pause.maxDuration,
      audit,
      log: log.child({ component: 'pauses' }),
      clock,
    });
    this.guard = new DiskGuard({
      storePath: config.store.path,
      minFreeBytes: parseSize(config.retention.minFreeBytes) ?? 0,
      pruner: this.pruner,
      cameras: this.cameras,
      log: log.child({ component: 'disk guard' }),
      audit,
      clock,
    });
    this.outbox = new Outbox({ index: this.index, notify: config.notify, log: log.child({ component: 'notify' }), audit, clock });
    this.stills = new Stills({
      store: this.store,
      cameras: this.cameras,
      names: config.cameras.map((c) => c.name),
      audit: (input) => this.audit.append(input),
      outbox: this.outbox,
      clock,
    });
    const dispatcher = new Dispatcher({
      status: () => this.status(),
      'cameras.list': () => Promise.resolve(this.cameras.list()),
      recordings: (params) => listRecordings(this.store, config.cameras.map((c) => c.name), params, clock.now()),
      prune: (params, ctx) => this.pruner.prune(params.dryRun, auditActor(ctx.actor)),
      'prune.receipts': (params) => this.pruner.receiptInfos(params.since),
      fsck: (params, ctx) =>
        this.pruner.exclusive('fsck', async () => {
          const result = await fsck(this.store, this.holds, params);
          if (params.repair && result.problems.length > 0) {
            await this.audit.append({ actor: auditActor(ctx.actor), action: 'fsck.repair', details: { problems: result.problems } });
          }
          return result;
        }),
      pause: (params, ctx) => this.pauses.pause(params, auditActor(ctx.actor)),
      resume: (params, ctx) => this.pauses.resume(params, auditActor(ctx.actor)),
      'audit.list': (params) => this.auditList(params),
      'audit.verify': () => this.audit.verify(),
      ...holdMethods(this.holds, config.cameras.map((c) => c.name), audit),
      still: (params, ctx) => this.stills.take(params, auditActor(ctx.actor, params.requestedBy.trim())),
      doctor: () => doctor({ config, index: this.index, cameras: this.cameras, notify: () => this.outbox.status() }),
    });
    this.socket = new SocketServer({
      path: config.socket.path,
      log: log.child({ component: 'socket' }),
      handle: (request, progress) => dispatcher.handle(request, progress),
    });
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    const components: Component[] = [
      // Before anything else: without these elements no camera records and no still is taken.
      { name: 'GStreamer elements', start: () => requireElements(), stop: () => undefined },
      { name: 'store lock', start: () => this.lock.acquire(), stop: () => this.lock.release() },
      {
        name: 'index',
        start: async () => {
          await this.index.start();
          const storeId = await checkStoreIdentity(this.index, config.store.path);
          await this.audit.append({ action: 'daemon.start', details: { version: VERSION, pid: process.pid, storeId } });
          const text = await readFile(this.opts.configFile).catch(() => undefined);
          await this.audit.append({
            action: 'config.loaded',
            subject: this.opts.configFile,
            details: { sha256: text ? createHash('sha256').update(text).digest('hex') : null, cameras: config.cameras.map((c) => c.name) },
          });
          await this.store.finishAllDeletions();
        },
        stop: async () => {
          await this.audit.append({ action: 'daemon.stop', details: { pid: process.pid } });
          await this.index.stop();
        },
      },
      // Before the cameras: notifications left from the last run go out even if a camera hangs.
      { name: 'notification outbox', start: () => this.outbox.start(), stop: () => this.outbox.stop() },
      {
        name: 'cameras',
        start: async () => {
          await this.pauses.restore(); // a pause that outlived a restart applies before recording starts
          await this.cameras.start();
        },
        stop: async () => {
          this.pauses.stop();
          await this.cameras.stop();
        },
      },
      { name: 'disk guard', start: () => this.guard.start(), stop: () => this.guard.stop() },
      {
        name: 'control socket',
        start: () => this.socket.start(gidOf(config.socket.group)),
        stop: () => this.socket.stop(),
      },
    ];
    for (const component of components) {
      await component.start();
      this.started.unshift(component);
      log.debug({ component: component.name }, 'started');
    }
    const summary = this.cameras.summary();
    this.notify.ready(summary);
    this.followStatus(summary);
    const threadPool = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
    log.info({ version: VERSION, config: this.opts.configFile, store: config.store.path, socket: config.socket.path, threadPool }, `libcamd ready: ${summary}`);
  }

  /** Keeps systemd's STATUS= line (systemctl status libcamd) in step with the cameras. */
  private followStatus(last: string): void {
    this.statusTimer = this.clock.setTimeout(() => {
      const now = this.cameras.summary();
      if (now !== last) this.notify.status(now);
      this.followStatus(now);
    }, STATUS_INTERVAL_MS);
  }

  /** Stops whatever was started, in reverse order; a component that fails to stop does not keep the rest running. */
  async stop(): Promise<void> {
    this.statusTimer?.cancel();
    this.notify.stopping();
    const started = this.started;
    this.started = [];
    for (const component of started) {
      try {
        await component.stop();
      } catch (err) {
        this.opts.log.error({ err, component: component.name }, 'component failed to stop cleanly');
      }
    }
  }

  private async auditList(params: Methods['audit.list']['params']): Promise<AuditEntryInfo[]> {
    const since = params.since === undefined ? undefined : Date.parse(params.since);
    const entries = await this.audit.list({ since, action: params.action });
    return entries.map(({ prev: _prev, ...e }) => e);
  }

  async status(): Promise<StatusResult> {
    const { store } = this.opts.config;
    const fs = await statfs(store.path);
    return {
      version: VERSION,
      uptimeS: Math.floor((this.clock.now() - this.startedAt) / 1000),
      store: { path: store.path, bytes: await this.store.totalBytes(), freeBytes: fs.bavail * fs.bsize },
      cameras: await Promise.all(this.cameras.status().map(async (c) => ({ ...c, pause: await this.pauses.info(c.name) }))),
      notify: await this.outbox.status(),
    };
  }
}
