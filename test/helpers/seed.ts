import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { IndexDb } from '../../src/store/indexDb.js';
import { SegmentStore } from '../../src/store/segments.js';

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
