import { LibcamError } from '../errors.js';

/** Refuses a camera name that is not configured, naming the flag and the cameras there are. */
export function requireCamera(cameras: readonly string[], name: string): void {
  if (!cameras.includes(name)) {
    throw new LibcamError('invalid-input', `--camera: no camera named "${name}"; configured: ${cameras.join(', ') || 'none'}`, {
      flag: '--camera',
      value: name,
      cameras,
    });
  }
}
