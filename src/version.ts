import { createRequire } from 'node:module';

function readVersion(): string {
  const pkg: unknown = createRequire(import.meta.url)('../package.json');
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** The package version, as `libcam status` and `--version` report it. */
export const VERSION = readVersion();
