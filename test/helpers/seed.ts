import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { IndexDb } from '../../src/store/indexDb.js';
import { segmentEncoding } from '../../src/store/segmentCodec.js';
import { SegmentStore, segKey, type ChainHead, type SegmentEntry } from '../../src/store/segments.js';

/** An index and store opened in this process, as libcamd opens them (no daemon running). */
export async function openStore(dir: string): Promise<{ index: IndexDb; store: SegmentStore; close: () => Promise<void> }> {
  const index = new IndexDb(join(dir, 'index'));
  await index.start();
  const store = new SegmentStore(index, join(dir, 'store'), pino({ level: 'silent' }));
  return { index, store, close: () => index.stop() };
}

/**
 * Writes `count` segments of `bytes` random bytes for a camera through the store's own
 * commit path (hash, fsync, rename, synced index batch), `everyMs` apart from `from`.
 */
export async function seedSegments(
  store: SegmentStore,
  camera: string,
  opts: { from: number; count: number; everyMs: number; lengthMs: number; bytes: number },
): Promise<void> {
  await store.prepare(camera);
  const incoming = store.incomingDir(camera);
  mkdirSync(incoming, { recursive: true });
  for (let i = 0; i < opts.count; i++) {
    const start = opts.from + i * opts.everyMs;
    const file = join(incoming, `seed-${start}.mp4`);
    writeFileSync(file, randomBytes(opts.bytes));
    await store.closed(camera, file, start, start + opts.lengthMs);
  }
}

/**
 * Like `seedSegments`, but fast: files and index entries are written directly, without
 * fsync, in large batches — for stores of tens of thousands of segments. The entries,
 * hashes, chain and head are what the commit path would have written.
 */
export async function seedBulk(
  index: IndexDb,
  root: string,
  camera: string,
  opts: { from: number; count: number; everyMs: number; lengthMs: number; bytes: number },
): Promise<void> {
  const seg = index.db.sublevel<string, SegmentEntry>('seg', { valueEncoding: segmentEncoding });
  const head = index.db.sublevel<string, ChainHead>('head', { valueEncoding: 'json' });
  const payload = randomBytes(opts.bytes);
  let prev: string | null = null;
  let ops: { type: 'put'; sublevel: typeof seg; key: string; value: SegmentEntry }[] = [];
  let lastDir = '';
  let last: SegmentEntry | undefined;
  for (let i = 0; i < opts.count; i++) {
    const start = opts.from + i * opts.everyMs;
    const d = new Date(start);
    const two = (n: number): string => String(n).padStart(2, '0');
    const rel = join(camera, String(d.getUTCFullYear()), two(d.getUTCMonth() + 1), two(d.getUTCDate()), `${start}.mp4`);
    const dirOf = join(root, rel, '..');
    if (dirOf !== lastDir) mkdirSync(dirOf, { recursive: true });
    lastDir = dirOf;
    payload.writeUInt32BE(i, 0); // every file different, so every hash is
    writeFileSync(join(root, rel), payload);
    const sha256 = createHash('sha256').update(payload).digest('hex');
    last = { camera, start, end: start + opts.lengthMs, bytes: opts.bytes, sha256, prev, file: rel };
    prev = sha256;
    ops.push({ type: 'put', sublevel: seg, key: segKey(camera, start), value: last });
    if (ops.length >= 5000) {
      await index.db.batch(ops);
      ops = [];
    }
  }
  await index.db.batch(ops);
  if (last) {
    const value: ChainHead = { sha256: last.sha256, start: last.start, end: last.end, bytes: opts.count * opts.bytes, segments: opts.count };
    await index.db.batch([{ type: 'put', sublevel: head, key: camera, value }], { sync: true });
  }
}
