import type { Handlers } from '../dispatcher.js';
import type { MethodDeps } from './context.js';

/** `libcam cameras list`: configured cameras and their sources, never their credentials. */
export function camerasMethods(d: MethodDeps): Pick<Handlers, 'cameras.list'> {
  return { 'cameras.list': () => Promise.resolve(d.cameras.list()) };
}
