import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** The size of each read while hashing, and of each buffer the pool keeps. */
const CHUNK_BYTES = 256 * 1024;
/** Buffers kept for reuse: one per camera committing at the same moment, roughly. */
const POOL_MAX = 32;
const pool: Buffer[] = [];

/**
 * SHA-256 and size of a file, read in 256 KiB pieces into buffers reused from call to call.
 * Reading a segment whole (2.5 MB at 2 Mbit/s, 5 MB at 4, per 10 s segment) allocated a
 * fresh buffer per segment: with 16 cameras closing segments together, 40–80 MB at once,
 * which glibc's heap kept (libcamd's RSS grew 40 MB in steps; BENCHMARKS.md).
 */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const buffer = pool.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
  let bytes = 0;
  try {
    const file = await open(path, 'r');
    try {
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, bytes);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        bytes += bytesRead;
      }
    } finally {
      await file.close();
    }
  } finally {
    if (pool.length < POOL_MAX) pool.push(buffer);
  }
  return { sha256: hash.digest('hex'), bytes };
}
