import type { Clock } from '../clock.js';
import type { CameraConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { rtspPlan, testPatternPlan, type PipelinePlan, type Transport } from '../pipeline/description.js';
import { readCredentials, type Credentials } from '../pipeline/credentials.js';
import { resolveOnvifStream } from '../pipeline/onvif.js';
import { Recorder } from '../pipeline/recorder.js';
import type { AuditInput } from '../store/audit.js';
import type { VideoCodec } from '../store/mp4.js';
import type { SegmentStore } from '../store/segments.js';
import type { CameraRuntime } from '../pipeline/runtime.js';

export interface CameraDeps {
  store: SegmentStore;
  segmentSeconds: number;
  log: Logger;
  audit: (input: AuditInput) => Promise<unknown>;
  clock: Clock;
}

/** How to build a camera's pipeline plan on each connect. */
export function planFor(camera: CameraConfig, segmentSeconds: number): (codec: VideoCodec | undefined, transport: Transport) => Promise<PipelinePlan> {
  const source = camera.source;
  switch (source.kind) {
    case 'test-pattern':
      return () => Promise.resolve(testPatternPlan(camera, segmentSeconds));
    case 'rtsp':
      return async (codec, transport) => {
        const credentials: Partial<Credentials> = source.credentialsFile ? await readCredentials(source.credentialsFile) : {};
        return rtspPlan({ url: source.url, user: credentials.user, password: credentials.password }, segmentSeconds, codec, transport);
      };
    case 'onvif':
      return async (codec, transport) => {
        const credentials: Partial<Credentials> = source.credentialsFile ? await readCredentials(source.credentialsFile) : {};
        const url = await resolveOnvifStream(source.url, credentials, source.profile);
        return rtspPlan({ url, user: credentials.user, password: credentials.password }, segmentSeconds, codec, transport);
      };
  }
}

export function makeCamera(camera: CameraConfig, deps: CameraDeps): CameraRuntime {
  return new Recorder({
    name: camera.name,
    segmentSeconds: deps.segmentSeconds,
    store: deps.store,
    log: deps.log.child({ camera: camera.name }),
    plan: planFor(camera, deps.segmentSeconds),
    transport: camera.source.kind === 'test-pattern' ? undefined : camera.source.transport,
    clock: deps.clock,
    onClockStep: (step) => {
      deps.audit({ action: 'clock.step', subject: camera.name, details: { ...step } }).catch((err: unknown) => deps.log.error({ err }, 'cannot audit a clock step'));
    },
  });
}
