import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { IndexDb } from '../src/store/indexDb.js';
import type { SegmentEntry } from '../src/store/segments.js';
import { shortDir } from './helpers/daemon.js';
import { seedSegments } from './helpers/seed.js';

// Deletion is mark -> unlink -> fsync the folder -> unmark. A folder fsync that fails (an
// I/O error on a dying disk: simulated, the kernel's EIO cannot be had on demand) must
// leave the marks, so that the deletion is completed later instead of being forgotten
// while the unlinks may not be on disk.
t.test('a failed folder fsync leaves the deletion marked, and it is completed later', async (t) => {
  let failDirs = false;
  const real = await import('../src/store/fsync.js');
  const { SegmentStore } = await t.mockImport<typeof import('../src/store/segments.js')>('../src/store/segments.js', {
    '../src/store/fsync.js': {
      ...real,
      fsyncPath: async (path: string) => {
        if (failDirs && !path.endsWith('.mp4')) throw Object.assign(new Error(`EIO: i/o error, fsync '${path}'`), { code: 'EIO' });
        await real.fsyncPath(path);
      },
    },
  });
  const dir = shortDir(t);
  const index = new IndexDb(join(dir, 'index'));
  await index.start();
  t.teardown(() => index.stop());
  const store = new SegmentStore(index, join(dir, 'store'), pino({ level: 'silent' }));
  await seedSegments(store, 'lobby', { from: Date.parse('2026-11-20T10:00:00Z'), count: 5, everyMs: 10_000, lengthMs: 10_000, bytes: 100 });
  const entries: SegmentEntry[] = [];
  for await (const s of store.segmentsOf('lobby')) entries.push(s);

  failDirs = true;
  const noHolds = () => Promise.resolve(() => false);
  await t.rejects(store.deleteSegments('lobby', entries.slice(0, 3), { heldNow: noHolds }), { code: 'EIO' }, 'the deletion fails with the I/O error');
  t.equal((await store.markedForDeletion()).length, 3, 'its three segments are still marked');
  t.ok(await store.entryAt('lobby', entries[0]?.start ?? 0), 'and still indexed');

  failDirs = false;
  t.equal(await store.finishDeletions('lobby'), 3, 'completed once the disk answers');
  t.equal((await store.markedForDeletion()).length, 0, 'no mark left');
  t.notOk(await store.entryAt('lobby', entries[0]?.start ?? 0), 'the entries are gone');
  t.notOk(existsSync(join(dir, 'store', entries[0]?.file ?? '')), 'and the files');
  t.ok(existsSync(join(dir, 'store', entries[4]?.file ?? '')), 'the others stay');
});
