#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * libcamd's entry point. It is CommonJS on purpose: libuv sizes its thread pool on first
 * use, and the ES module loader reads files through that pool, so only a CommonJS entry
 * can set UV_THREADPOOL_SIZE before anything touches it. Each camera's pipeline (and a live
 * JPEG decoder while one runs) parks one pool thread on its bus (see src/pipeline/gst.ts); LevelDB, fs and crypto need the spare ones.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const SPARE_THREADS = 4;
const DEFAULT_CONFIG = '/etc/libcam/libcam.yaml';

function configArg(argv: string[]): string {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if ((arg === '--config' || arg === '-c') && argv[i + 1] !== undefined) return argv[i + 1] ?? DEFAULT_CONFIG;
    if (arg.startsWith('--config=')) return arg.slice('--config='.length);
  }
  return DEFAULT_CONFIG;
}

/** Enabled cameras in the file; 0 when it cannot be read (run.js then reports why). */
function countCameras(file: string): number {
  try {
    const doc: unknown = parse(readFileSync(file, 'utf8'));
    if (typeof doc !== 'object' || doc === null || !('cameras' in doc) || !Array.isArray(doc.cameras)) return 0;
    return doc.cameras.filter((c: unknown) => !(typeof c === 'object' && c !== null && 'enabled' in c && c.enabled === false)).length;
  } catch {
    return 0; // run.js validates the file properly and refuses to start with the reason
  }
}

// Everything libcamd makes (segments, the index, keys) is its own: files 0600, folders
// 0700, whatever umask it was started with (the unit says UMask=0077 too). Set here, once,
// before any thread exists.
process.umask(0o077);

// A value from the environment (the unit's Environment=) is a floor, never a cap. Two per
// camera: its recording pipeline's bus, and the live view's JPEG decoder while an H.265
// camera is watched.
const needed = 2 * countCameras(configArg(process.argv.slice(2))) + SPARE_THREADS;
const given = Number(process.env['UV_THREADPOOL_SIZE'] ?? 0);
process.env['UV_THREADPOOL_SIZE'] = String(Math.min(1024, Math.max(needed, Number.isFinite(given) ? given : 0)));

import('./run.js').catch((err: unknown) => {
  process.stderr.write(`libcamd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
