import { createHash } from 'node:crypto';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { formatBytes } from '../config/units.js';
import { LibcamError, errnoOf } from '../errors.js';
import { verifyBundle, type BundleVerdict } from '../evidence/verify.js';
import { dropCached } from '../os/libc.js';
import type { ExportCompleteResult } from '../protocol.js';
import type { Client } from './client.js';

/**
 * Checks the folder a bundle goes into: absent (it is made when the bundle is written), or
 * an empty folder; refused otherwise, so nothing is ever overwritten or mixed in.
 */
export async function checkBundleDir(dir: string): Promise<string> {
  const path = resolve(dir);
  try {
    const st = await stat(path);
    if (!st.isDirectory()) throw new LibcamError('invalid-input', `--to: ${path} is not a folder`, { flag: '--to' });
    const inside = await readdir(path);
    if (inside.length > 0) throw new LibcamError('invalid-input', `--to: ${path} is not empty (${inside.length} entries); a bundle goes into an empty folder, so nothing is overwritten or mixed in`, { flag: '--to' });
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
  return path;
}

/** Progress on the terminal (stderr): bytes written of all. */
function progress(done: number, total: number): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(`\rwriting the bundle: ${formatBytes(done)} of ${formatBytes(total)} (${total > 0 ? Math.floor((done / total) * 100) : 100}%)   `);
}

/**
 * Fetches every file of a completed export into `dir`: each one hashed as it is written and
 * compared with what libcamd announced, fsynced with its folders, its pages dropped from the
 * cache; then the whole bundle is read back from the disk and verified as an officer would
 * (libcam verify). Nothing is reported written unless that passes.
 */
export async function writeBundle(client: Client, completed: ExportCompleteResult, dir: string): Promise<{ bytes: number; verdict: BundleVerdict }> {
  await mkdir(dir, { recursive: true });
  const total = completed.files.reduce((sum, f) => sum + f.bytes, 0);
  let done = 0;
  const folders = new Set<string>([dir]);
  for (const file of completed.files) {
    const target = join(dir, file.path);
    if (!target.startsWith(`${dir}/`)) throw new LibcamError('internal', `libcamd named a file outside the bundle: ${file.path}`);
    for (let at = dirname(target); at.length > dir.length; at = dirname(at)) folders.add(at);
    await mkdir(dirname(target), { recursive: true });
    const handle = await open(target, 'wx');
    try {
      const hash = createHash('sha256');
      let position = 0;
      await client.download({ request: completed.request, path: file.path }, async (chunk) => {
        hash.update(chunk);
        let written = 0;
        while (written < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, written, chunk.length - written, position);
          written += bytesWritten;
          position += bytesWritten;
        }
        done += chunk.length;
        progress(done, total);
      });
      if (position !== file.bytes) throw new LibcamError('io', `${file.path}: ${position} bytes written of ${file.bytes}`);
      const digest = hash.digest('hex');
      if (digest !== file.sha256) throw new LibcamError('io', `${file.path} arrived with SHA-256 ${digest}, not ${file.sha256}: the store's copy changed or the transfer failed`, { path: file.path });
      await handle.sync();
      dropCached(handle.fd);
    } finally {
      await handle.close();
    }
  }
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) {
    const handle = await open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\nreading it back to verify it…\n');
  const verdict = await verifyBundle(dir);
  return { bytes: total, verdict };
}
