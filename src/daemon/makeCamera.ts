import type { CameraConfig } from '../config/types.js';
import type { CameraStatus } from '../protocol.js';
import type { CameraRuntime } from './cameraSet.js';

/** Placeholder until the recorder lands: the camera is configured and waits to connect. */
export function makeCamera(camera: CameraConfig): CameraRuntime {
  const since = new Date().toISOString();
  return {
    name: camera.name,
    status: (): CameraStatus => ({ name: camera.name, state: 'connecting', since, lastSegmentEnd: null, pause: null, reason: null }),
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
}
