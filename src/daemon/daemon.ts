import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { iso, systemClock, type Clock, type Timer } from '../clock.js';
import type { CameraConfig, Config } from '../config/types.js';
import { LibcamError } from '../errors.js';
import type { Logger } from '../log.js';
import { requireElements } from '../pipeline/elements.js';
import type { CameraRuntime } from '../pipeline/runtime.js';
import { AuditTrail, type AuditInput } from '../store/audit.js';
import { Holds } from '../store/holds.js';
import { checkStoreIdentity } from '../store/identity.js';
import { IndexDb } from '../store/indexDb.js';
import { Pruner, type RetentionLimits } from '../store/retention.js';
import { SegmentStore } from '../store/segments.js';
import { VERSION } from '../version.js';
import { CameraSet } from './cameraSet.js';
import { Dispatcher, type Handlers } from './dispatcher.js';
import { AuditDigest } from './digest.js';
import { DiskGuard } from './diskGuard.js';
import { gidOf } from './group.js';
import type { CameraDeps } from './makeCamera.js';
import { Incidents } from '../evidence/incidents.js';
import { Approvers } from '../evidence/approvers.js';
import { Exports } from '../evidence/exports.js';
import { approversMethods } from './methods/approvers.js';
import { staffMethods } from './methods/staff.js';
import { StaffAccounts } from '../web/staff.js';
import { WebServer } from '../web/server.js';
import { exportsMethods } from './methods/exports.js';
import { auditMethods } from './methods/audit.js';
import { camerasMethods } from './methods/cameras.js';
import type { MethodDeps } from './methods/context.js';
import { doctorMethods } from './methods/doctor.js';
import { holdsMethods } from './methods/holds.js';
import { incidentsMethods } from './methods/incidents.js';
import { pauseMethods } from './methods/pause.js';
import { recordingsMethods } from './methods/recordings.js';
import { statusMethods } from './methods/status.js';
import { stillMethods } from './methods/still.js';
import { storeMethods } from './methods/store.js';
import { Outbox } from './outbox.js';
import { Pauses } from './pauses.js';
import { SdNotify } from './sdNotify.js';
import { SocketServer } from './socketServer.js';
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

/** Retention's limits as the configuration sets them: each camera's maxAge, else the store's. */
export function retentionLimits(config: Config): RetentionLimits {
  const own = new Map(config.cameras.map((c) => [c.name, c.maxAgeMs ?? config.retention.maxAgeMs]));
  return {
    maxAgeMs: (camera) => own.get(camera) ?? config.retention.maxAgeMs,
    maxBytes: config.retention.maxBytes,
    minFreeBytes: config.retention.minFreeBytes,
  };
}

/**
 * The composition root: builds every component (no I/O in constructors), starts them
 * in order, and stops the started ones in reverse. READY=1 is sent only once the
 * control socket answers. The socket's methods live in methods/, one module per group,
 * as the CLI's commands do in src/cli/commands/.
 */
export class Daemon {
  private readonly clock: Clock;
  private readonly index: IndexDb;
  private readonly store: SegmentStore;
  private readonly trail: AuditTrail;
  private readonly outbox: Outbox;
  private readonly incidents: Incidents;
  private readonly digest: AuditDigest;
  private readonly pauses: Pauses;
  private readonly guard: DiskGuard;
  private readonly cameras: CameraSet;
  private readonly socket: SocketServer;
  private readonly web: WebServer | undefined;
  private readonly lock: StoreLock;
  private readonly notify: SdNotify;
  private started: Component[] = [];
  private storeIdValue: string | undefined;
  private statusTimer: Timer | undefined;

  constructor(private readonly opts: DaemonOptions) {
    const { config, log } = opts;
    const clock = (this.clock = opts.clock ?? systemClock);
    const names = config.cameras.map((c) => c.name);
    this.notify = opts.notify ?? new SdNotify();
    this.lock = new StoreLock(config.store.path, config.socket.path);
    this.index = new IndexDb(config.index.path);
    this.store = new SegmentStore(this.index, config.store.path, log.child({ component: 'store' }));
    const holds = new Holds(this.index, this.store, clock);
    this.trail = new AuditTrail(this.index, log.child({ component: 'audit' }), clock, config.keys.path);
    const audit = (input: AuditInput) => this.trail.append(input);
    const pruner = new Pruner({
      limits: retentionLimits(config),
      storePath: config.store.path,
      store: this.store,
      holds,
      index: this.index,
      log: log.child({ component: 'retention' }),
      audit,
      clock,
    });
    const cameraDeps: CameraDeps = { store: this.store, segmentSeconds: config.store.segmentSeconds, log, audit, clock };
    this.cameras = new CameraSet(config.cameras, (camera) => opts.makeCamera(camera, cameraDeps), log.child({ component: 'cameras' }), clock);
    this.pauses = new Pauses({ index: this.index, cameras: this.cameras, names, maxDurationMs: config.pause.maxDurationMs, audit, log: log.child({ component: 'pauses' }), clock });
    this.guard = new DiskGuard({
      storePath: config.store.path,
      minFreeBytes: config.retention.minFreeBytes,
      pruner,
      cameras: this.cameras,
      log: log.child({ component: 'disk guard' }),
      audit,
      clock,
    });
    this.outbox = new Outbox({ index: this.index, notify: config.notify, log: log.child({ component: 'notify' }), audit, clock });
    this.digest = new AuditDigest({ trail: this.trail, outbox: this.outbox, index: this.index, clock, log: log.child({ component: 'digest' }) });

    this.incidents = new Incidents({
      index: this.index,
      store: this.store,
      holds,
      audit,
      notify: (subject, text) => this.outbox.enqueue(subject, text),
      clock,
      log: log.child({ component: 'incidents' }),
      segmentSeconds: config.store.segmentSeconds,
      names,
      recording: (camera) => config.cameras.some((c) => c.name === camera && c.enabled),
    });
    const notify = (subject: string, text: string) => this.outbox.enqueue(subject, text);
    const approvers = new Approvers({ index: this.index, clock, audit, notify, pairs: config.export.approvalPairs, log: log.child({ component: 'approvers' }) });
    const exports = new Exports({
      index: this.index,
      store: this.store,
      incidents: this.incidents,
      approvers,
      trail: this.trail,
      audit,
      notify,
      appliance: () => this.trail.appliance,
      storeId: () => this.storeId(),
      clock,
      log: log.child({ component: 'exports' }),
    });
    const staff = new StaffAccounts({ index: this.index, clock, audit });
    this.web = config.web
      ? new WebServer({
          listen: config.web.listen,
          cert: config.web.tls.cert,
          key: config.web.tls.key,
          allow: config.web.allow,
          sessionIdleMs: config.web.sessionIdleMs,
          sessionMaxMs: config.web.sessionMaxMs,
          staff,
          // What a tile shows: name and state, from the recorders; nothing from the store.
          cameras: async () =>
            Promise.all(
              this.cameras.status().map(async (c) => {
                const pause = await this.pauses.info(c.name);
                return { name: c.name, state: c.state, reason: c.reason, pause: pause ? { reason: pause.reason, until: iso(pause.until) } : null };
              }),
            ),
          // Live frames from the recorders' pipelines: the web server has no way to the store.
          live: (name) => this.cameras.runtime(name)?.live,
          audit,
          clock,
          log: log.child({ component: 'web' }),
        })
      : undefined;
    const d: MethodDeps = {
      config,
      clock,
      log,
      index: this.index,
      store: this.store,
      holds,
      pruner,
      trail: this.trail,
      audit,
      cameras: this.cameras,
      pauses: this.pauses,
      outbox: this.outbox,
      incidents: this.incidents,
      approvers,
      exports,
      staff,
      names,
      startedAt: clock.now(),
    };
    const handlers: Handlers = {
      ...statusMethods(d),
      ...doctorMethods(d),
      ...camerasMethods(d),
      ...recordingsMethods(d),
      ...stillMethods(d),
      ...pauseMethods(d),
      ...storeMethods(d),
      ...holdsMethods(d),
      ...auditMethods(d),
      ...incidentsMethods(d),
      ...approversMethods(d),
      ...exportsMethods(d),
      ...staffMethods(d),
    };
    const dispatcher = new Dispatcher(handlers);
    this.socket = new SocketServer({
      path: config.socket.path,
      log: log.child({ component: 'socket' }),
      handle: (request, caller, progress) => dispatcher.handle(request, caller, progress),
    });
  }

  /** The store's identity (store.id in its root), known once the index has started. */
  private storeId(): Promise<string> {
    if (this.storeIdValue === undefined) return Promise.reject(new LibcamError('unavailable', 'the store is not open yet'));
    return Promise.resolve(this.storeIdValue);
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
          const migrated = this.index.migrated;
          if (migrated) this.opts.log.info(migrated, 'index migrated to a newer format');
          if (migrated && migrated.unreadable > 0) this.opts.log.warn(migrated, 'index entries that could not be read were left as they were: run libcam fsck');
          const storeId = await checkStoreIdentity(this.index, config.store.path);
          this.storeIdValue = storeId;
          const { previousHead, signedHead } = await this.trail.start();
          await this.trail.append({
            action: 'daemon.start',
            details: { version: VERSION, pid: process.pid, storeId, previousHead, signedHead, appliance: this.trail.appliance.fingerprint },
          });
          const text = await readFile(this.opts.configFile).catch(() => undefined);
          await this.trail.append({
            action: 'config.loaded',
            subject: this.opts.configFile,
            details: { sha256: text ? createHash('sha256').update(text).digest('hex') : null, cameras: config.cameras.map((c) => c.name) },
          });
          await this.store.finishAllDeletions();
        },
        stop: async () => {
          await this.trail.append({ action: 'daemon.stop', details: { pid: process.pid } });
          await this.index.stop();
        },
      },
      // Before the cameras: notifications left from the last run go out even if a camera hangs.
      { name: 'notification outbox', start: () => this.outbox.start(), stop: () => this.outbox.stop() },
      { name: 'audit digest', start: () => this.digest.start(), stop: () => this.digest.stop() },
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
      { name: 'incidents', start: () => this.incidents.start(), stop: () => this.incidents.stop() },
      { name: 'disk guard', start: () => this.guard.start(), stop: () => this.guard.stop() },
      {
        name: 'control socket',
        start: () => this.socket.start(gidOf(config.socket.group)),
        stop: () => this.socket.stop(),
      },
      { name: 'live view', start: () => this.web?.start(), stop: () => this.web?.stop() },
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
}
