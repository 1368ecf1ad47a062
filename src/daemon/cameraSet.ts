import type { Clock } from '../clock.js';
import type { CameraConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../log.js';
import type { CameraListEntry } from '../protocol.js';
import type { CameraReport, CameraRuntime, CameraState, Suspension, SuspensionKind } from '../pipeline/runtime.js';

/** A camera that is configured but not recorded (`enabled: false`). */
export class DisabledCamera implements CameraRuntime {
  constructor(
    readonly name: string,
    private readonly since: number,
  ) {}
  status(): CameraReport {
    return { name: this.name, state: 'disabled', since: this.since, lastSegmentEnd: null, reason: null, suspensions: [], transport: null, liveViewers: 0 };
  }
  start(): Promise<void> {
    return Promise.resolve();
  }
  liveSegment(): undefined {
    return undefined;
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  suspend(): Promise<void> {
    return Promise.resolve(); // nothing records, nothing to stop
  }
  unsuspend(): Promise<void> {
    return Promise.resolve();
  }
  suspendedBy(): Suspension[] {
    return [];
  }
}

/** The URL shown to users for a source; credentials are never part of it. */
export function displayUrl(camera: CameraConfig): string {
  const source = camera.source;
  switch (source.kind) {
    case 'rtsp':
    case 'onvif':
      return redactUrl(source.url);
    case 'test-pattern':
      return `test-pattern://${source.width}x${source.height}@${source.fps}/${source.codec}`;
  }
}

/**
 * Every configured camera, each with its own runtime. A camera that fails to start is
 * logged and left in its error state; it never stops the others.
 */
export class CameraSet {
  private readonly runtimes: CameraRuntime[];

  constructor(
    private readonly cameras: CameraConfig[],
    make: (camera: CameraConfig) => CameraRuntime,
    private readonly log: Logger,
    clock: Clock,
  ) {
    const since = clock.now();
    this.runtimes = cameras.map((camera) => (camera.enabled ? make(camera) : new DisabledCamera(camera.name, since)));
  }

  async start(): Promise<void> {
    await Promise.all(
      this.runtimes.map((runtime) =>
        runtime.start().catch((err: unknown) => this.log.error({ err, camera: runtime.name }, 'camera failed to start')),
      ),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.runtimes.map((runtime) =>
        runtime.stop().catch((err: unknown) => this.log.error({ err, camera: runtime.name }, 'camera failed to stop cleanly')),
      ),
    );
  }

  /** Adds one reason to every camera (a paused camera keeps showing its pause). */
  async suspendAll(suspension: Suspension): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.suspend(suspension)));
  }

  runtime(name: string): CameraRuntime | undefined {
    return this.runtimes.find((r) => r.name === name);
  }

  /** Removes one reason from every camera; those with no reason left record again. */
  async unsuspendAll(kind: SuspensionKind): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.unsuspend(kind)));
  }

  status(): CameraReport[] {
    return this.runtimes.map((runtime) => runtime.status());
  }

  list(): CameraListEntry[] {
    const states = new Map<string, CameraState>(this.status().map((s) => [s.name, s.state]));
    return this.cameras.map((camera) => ({
      name: camera.name,
      source: { kind: camera.source.kind, url: displayUrl(camera) },
      state: states.get(camera.name) ?? 'disabled',
    }));
  }

  /** `2 recording, 1 error` — for sd_notify's STATUS= and the log. */
  summary(): string {
    const counts = new Map<CameraState, number>();
    for (const s of this.status()) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
    const parts = [...counts].map(([state, n]) => `${n} ${state}`);
    return parts.length > 0 ? `cameras: ${parts.join(', ')}` : 'no cameras configured';
  }
}
