import { mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { read } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { formatBytes } from '../config/units.js';
import { LibcamError, errnoOf } from '../errors.js';
import { verifyBundle, type BundleVerdict } from '../evidence/verify.js';
import { canPassDescriptors, closeDescriptor, copyInKernel } from '../os/descriptors.js';
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

const readAt = promisify(read);

/** Bytes gathered before one write: large writes, one in flight while the next batch fills. */
const BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Writes a file from chunks as they arrive, in batches of a few MB at their positions: one
 * write in flight while the next batch fills, so receiving and writing overlap and a chunk
 * of 64 KB costs no round trip to the disk thread of its own.
 */
class BatchedFile {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private position = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(private readonly handle: FileHandle) {}

  get written(): number {
    return this.position + this.batchBytes;
  }

  /** Takes a chunk; waits only when a batch is full and the one before it is still being written. */
  async add(chunk: Buffer): Promise<void> {
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= BATCH_BYTES) await this.flush();
  }

  /** Starts writing the batch in hand once the previous write is done; resolves when it has started. */
  async flush(): Promise<void> {
    await this.inFlight;
    if (this.failure) throw this.failure;
    if (this.batchBytes === 0) return;
    const buffers = this.batch;
    const at = this.position;
    this.position += this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    // A failed write (a full stick) is kept and thrown at the next add or finish, never left unhandled.
    this.inFlight = writeAll(this.handle, buffers, at).catch((err: unknown) => {
      this.failure = err instanceof Error ? err : new Error(String(err));
    });
  }

  /** Everything taken is written. */
  async finish(): Promise<void> {
    await this.flush();
    await this.inFlight;
    if (this.failure) throw this.failure;
  }
}

async function writeAll(handle: FileHandle, buffers: Buffer[], at: number): Promise<void> {
  let position = at;
  let rest = buffers;
  while (rest.length > 0) {
    const { bytesWritten } = await handle.writev(rest, position);
    position += bytesWritten;
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length;
      else {
        next.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

/** Bytes the kernel is asked to copy at a time: progress moves between them. */
const COPY_CHUNK = 64 * 1024 * 1024;

/**
 * Copies `bytes` of a file libcamd passed as a descriptor into `out`: in the kernel
 * (copy_file_range), or by reading and writing where the kernel will not copy between these
 * two files. Returns what was copied (less only when the file ended early).
 */
async function copyPassed(fd: number, out: FileHandle, bytes: number, moved: (n: number) => void): Promise<number> {
  let copied = 0;
  while (copied < bytes) {
    const n = await copyInKernel(fd, out.fd, Math.min(COPY_CHUNK, bytes - copied));
    if (n <= 0) break; // the kernel will not (or says nothing more): reading tells whether the file ended
    copied += n;
    moved(n);
  }
  const buffer = Buffer.allocUnsafe(BATCH_BYTES);
  while (copied < bytes) {
    const { bytesRead } = await readAt(fd, buffer, 0, Math.min(buffer.length, bytes - copied), copied);
    if (bytesRead === 0) break;
    await writeAll(out, [buffer.subarray(0, bytesRead)], copied);
    copied += bytesRead;
    moved(bytesRead);
  }
  return copied;
}

/** fsyncs a file or folder, then (a file) drops its pages from the cache so the read-back comes from the disk. */
async function syncAndDrop(path: string, drop: boolean): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
    if (drop) dropCached(handle.fd);
  } finally {
    await handle.close();
  }
}

/**
 * Fetches every file of a completed export into `dir`, each one's length checked. Then
 * every file is fsynced (once all are written, so the kernel writes them back while the
 * rest arrives) and its pages dropped from the cache, then the folders; then the whole bundle is read back from the disk and verified as an
 * officer would (libcam verify): every file against the SHA-256 the manifest gives it, so
 * hashing as the bytes arrive would only do that twice. Nothing is reported written unless
 * that passes.
 */
export async function writeBundle(client: Client, completed: ExportCompleteResult, dir: string): Promise<{ bytes: number; verdict: BundleVerdict }> {
  await mkdir(dir, { recursive: true });
  const total = completed.files.reduce((sum, f) => sum + f.bytes, 0);
  let done = 0;
  const folders = new Set<string>([dir]);
  const written: string[] = [];
  const fetchOne = async (file: ExportCompleteResult['files'][number]): Promise<void> => {
    const target = join(dir, file.path);
    if (!target.startsWith(`${dir}/`)) throw new LibcamError('internal', `libcamd named a file outside the bundle: ${file.path}`);
    for (let at = dirname(target); at.length > dir.length; at = dirname(at)) folders.add(at);
    await mkdir(dirname(target), { recursive: true });
    const handle = await open(target, 'wx');
    written.push(target);
    try {
      let arrived: number;
      if (file.stored && canPassDescriptors) {
        // A segment or a clip: libcamd passes the file itself, copied here in the kernel.
        const { fd } = client.fetchDescriptor({ request: completed.request, path: file.path });
        try {
          arrived = await copyPassed(fd, handle, file.bytes, (n) => progress((done += n), total));
        } finally {
          closeDescriptor(fd);
        }
      } else {
        const out = new BatchedFile(handle);
        await client.download({ request: completed.request, path: file.path }, async (chunk) => {
          await out.add(chunk);
          done += chunk.length;
          progress(done, total);
        });
        await out.finish();
        arrived = out.written;
      }
      if (arrived !== file.bytes) throw new LibcamError('io', `${file.path}: ${arrived} bytes written of ${file.bytes}`);
    } finally {
      await handle.close();
    }
  };
  for (const file of completed.files) await fetchOne(file);
  for (const file of written) await syncAndDrop(file, true);
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) await syncAndDrop(folder, false);
  if (process.stderr.isTTY) process.stderr.write('\nreading it back to verify it…\n');
  const verdict = await verifyBundle(dir);
  return { bytes: total, verdict };
}
