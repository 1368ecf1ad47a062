import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { fsck } from '../src/store/fsck.js';
import { Holds } from '../src/store/holds.js';
import { checkStoreIdentity } from '../src/store/identity.js';
import { INDEX_FORMAT, IndexDb } from '../src/store/indexDb.js';
import { decodeSegment, encodeSegment, segmentFile } from '../src/store/segmentCodec.js';
import { SegmentStore, type SegmentEntry } from '../src/store/segments.js';
import { shortDir } from './helpers/daemon.js';
import { FakeClock } from './helpers/fakeClock.js';
import { openStore, seedSegments } from './helpers/seed.js';

// Index format 2 stores segment entries lean (src/store/segmentCodec.ts). An index that
// libcamd wrote before (format 1: every entry JSON) must open, be rewritten once, and
// answer every query exactly as before — real LevelDB, real files, the real commit path.
const T0 = Date.parse('2026-11-28T23:59:00Z'); // the segments cross midnight: two day folders
const CAMERAS = ['lobby', 'stacks', 'entrance'];
const SEG = 10_000;

/** Puts the index back the way format 1 wrote it: JSON values (`share` of them), format 1. */
async function asFormat1(index: IndexDb, share = 1): Promise<number> {
  const raw = index.db.sublevel<string, string>('seg', { valueEncoding: 'utf8' });
  const json = index.db.sublevel<string, SegmentEntry>('seg', { valueEncoding: 'json' });
  const all = await raw.iterator().all();
  const rewrite = all.filter((_, i) => i < all.length * share);
  const meta = index.db.sublevel<string, number>('meta', { valueEncoding: 'json' });
  await index.db.batch([
    ...rewrite.map(([key, value]) => ({ type: 'put' as const, sublevel: json, key, value: decodeSegment(value) })),
    { type: 'put' as const, sublevel: meta, key: 'format', value: 1 },
  ]);
  return rewrite.length;
}

async function rawValues(index: IndexDb): Promise<string[]> {
  return index.db.sublevel<string, string>('seg', { valueEncoding: 'utf8' }).values().all();
}

async function everyRange(store: SegmentStore): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const camera of CAMERAS) {
    out.push(await store.range(camera, T0 - 60_000, T0 + 3_600_000));
    out.push(await store.range(camera, T0 + 95_000, T0 + 155_000));
    out.push(await store.chainHead(camera));
  }
  return out;
}

t.test('an index of format 1 opens, is migrated once, and answers the same', async (t) => {
  const dir = shortDir(t);
  let { index, store, close } = await openStore(dir);
  for (const camera of CAMERAS) await seedSegments(store, camera, { from: T0, count: 20, everyMs: SEG, lengthMs: SEG, bytes: 200 });
  await checkStoreIdentity(index, store.root);
  const answers = await everyRange(store);
  t.equal(await asFormat1(index), 60, 'every entry written back as JSON, format 1');
  const jsonBytes = (await rawValues(index)).reduce((a, v) => a + v.length, 0);
  await close();

  ({ index, store, close } = await openStore(dir));
  t.match(index.migrated, { from: 1, to: INDEX_FORMAT, entries: 60 }, 'the start-up migrated all 60 entries');
  const values = await rawValues(index);
  t.ok(values.every((v) => v.startsWith('2|')), 'every entry is in the lean form now');
  const leanBytes = values.reduce((a, v) => a + v.length, 0);
  t.ok(leanBytes * 1.5 < jsonBytes, `the entries take ${leanBytes} bytes, against ${jsonBytes} as JSON`);
  t.same(await everyRange(store), answers, 'every range and chain head reads exactly as before');
  const report = await fsck(store, new Holds(index, store, new FakeClock(T0 + 3_600_000)), { repair: false, deep: true });
  t.same(report.problems, [], 'fsck --deep: files, hashes and the chain agree with the migrated entries');
  await close();

  ({ index, store, close } = await openStore(dir));
  t.equal(index.migrated, undefined, 'the next start has nothing to migrate');
  await close();
});

t.test('a migration cut short (half the entries rewritten) reads correctly, keeps format-1 code out, and finishes at the next start', async (t) => {
  const dir = shortDir(t);
  let { index, store, close } = await openStore(dir);
  for (const camera of CAMERAS) await seedSegments(store, camera, { from: T0, count: 10, everyMs: SEG, lengthMs: SEG, bytes: 100 });
  const answers = await everyRange(store);
  t.equal(await asFormat1(index, 0.5), 15, 'half the entries JSON, half binary');
  // What a start cut short leaves: format 2 with the `migrating` mark (format-1 code refuses any format but 1).
  const meta = index.db.sublevel<string, number>('meta', { valueEncoding: 'json' });
  await meta.batch([
    { type: 'put', key: 'format', value: 2 },
    { type: 'put', key: 'migrating', value: 1 },
  ]);
  t.same(await everyRange(store), answers, 'a mixed index reads the same');
  await close();

  ({ index, store, close } = await openStore(dir));
  t.match(index.migrated, { entries: 15, unreadable: 0 }, 'the next start rewrites only what was left');
  t.equal(await index.db.sublevel<string, number>('meta', { valueEncoding: 'json' }).get('migrating'), undefined, 'and removes the mark');
  t.same(await everyRange(store), answers);
  await close();
});

t.test('a damaged entry is left as it was and named; the rest migrate and libcamd starts', async (t) => {
  const dir = shortDir(t);
  let { index, store, close } = await openStore(dir);
  await seedSegments(store, 'lobby', { from: T0, count: 5, everyMs: SEG, lengthMs: SEG, bytes: 100 });
  await asFormat1(index);
  const raw = index.db.sublevel<string, string>('seg', { valueEncoding: 'utf8' });
  const [damagedKey] = await raw.keys({ limit: 1 }).all();
  await raw.put(damagedKey ?? '', '{"camera":"lobby"');
  await close();
  ({ index, store, close } = await openStore(dir));
  t.match(index.migrated, { entries: 4, unreadable: 1, unreadableKeys: [damagedKey] }, 'four rewritten, the damaged one named');
  await close();
});

t.test('an index of a format this libcamd does not know is refused, untouched', async (t) => {
  const dir = shortDir(t);
  const { index, close } = await openStore(dir);
  const meta = index.db.sublevel<string, number>('meta', { valueEncoding: 'json' });
  await meta.put('format', INDEX_FORMAT + 1);
  await close();
  const again = new IndexDb(join(dir, 'index'));
  await t.rejects(again.start(), { code: 'conflict', message: new RegExp(`has format ${INDEX_FORMAT + 1}; this libcamd reads format ${INDEX_FORMAT}`) });
  await again.stop();
});

t.test('an entry the lean form cannot hold stays JSON, and every entry decodes to what was encoded', async (t) => {
  const sha = 'ab'.repeat(32);
  const start = Date.parse('2026-11-28T12:00:00Z');
  const plain: SegmentEntry = { camera: 'lobby', start, end: start + 10_000, bytes: 1234, sha256: sha, prev: null, file: segmentFile('lobby', start) };
  const chained: SegmentEntry = { ...plain, prev: 'cd'.repeat(32), camera: 'entrée nord', file: segmentFile('entrée nord', start) };
  const moved: SegmentEntry = { ...plain, file: 'lobby/elsewhere.mp4' };
  for (const e of [plain, chained, moved]) t.same(decodeSegment(encodeSegment(e)), e, `${e.camera} ${e.file}`);
  t.ok(encodeSegment(plain).startsWith('2|'), 'lean');
  t.ok(encodeSegment(plain).length < 180, `${encodeSegment(plain).length} bytes`);
  t.ok(encodeSegment(moved).startsWith('{'), 'a file not where segmentFile puts it: kept as JSON, nothing lost');
  const piped: SegmentEntry = { ...plain, camera: 'a|b', file: segmentFile('a|b', start) };
  t.ok(encodeSegment(piped).startsWith('{'), 'a camera name with the separator: kept as JSON');
  t.same(decodeSegment(encodeSegment(piped)), piped);
  const fractional: SegmentEntry = { ...plain, start: start + 0.25, end: start + 10_000.75, file: segmentFile('lobby', start + 0.25) };
  t.same(decodeSegment(encodeSegment(fractional)), fractional, 'times that are not whole milliseconds come back exactly');
  t.equal(segmentFile('lobby', start), join('lobby', '2026', '11', '28', `${start}.mp4`));
  t.equal(new SegmentStore(new IndexDb('/nonexistent'), '/srv/libcam', pino({ level: 'silent' })).finalPath('lobby', start), join('/srv/libcam', segmentFile('lobby', start)), 'the store puts files where the index says');
});

t.test('entries decoded one after another keep their own day and camera in the file path', async (t) => {
  // decodeSegment reuses the last day directory it made (a range query decodes hundreds of
  // one camera and day): crossing midnight, changing camera and going back must not reuse it.
  const sha = 'ab'.repeat(32);
  const midnight = Date.parse('2026-12-01T00:00:00Z');
  const entry = (camera: string, start: number): SegmentEntry => ({ camera, start, end: start + 10_000, bytes: 1, sha256: sha, prev: sha, file: segmentFile(camera, start) });
  const walk: [string, number, string][] = [
    ['lobby', midnight - 10_000, 'lobby/2026/11/30/'],
    ['lobby', midnight - 0.5, 'lobby/2026/11/30/'],
    ['lobby', midnight, 'lobby/2026/12/01/'],
    ['stacks', midnight, 'stacks/2026/12/01/'],
    ['lobby', midnight - 1, 'lobby/2026/11/30/'],
    ['lobby', Date.parse('2027-01-01T00:00:05Z'), 'lobby/2027/01/01/'],
  ];
  for (const [camera, start, directory] of walk) {
    const decoded = decodeSegment(encodeSegment(entry(camera, start)));
    t.equal(decoded.file, `${directory}${Math.round(start)}.mp4`, `${camera} at ${new Date(start).toISOString()}`);
    t.same(decoded, entry(camera, start));
  }
  const lastValid = 8.64e15; // the last instant a Date can hold; a millisecond later is no day at all
  t.equal(segmentFile('lobby', lastValid), `lobby/275760/09/13/${lastValid}.mp4`);
  t.equal(segmentFile('lobby', lastValid + 1), `lobby/NaN/NaN/NaN/${lastValid + 1}.mp4`, 'a time past the last valid day does not borrow its directory');
  const big: SegmentEntry = { ...entry('lobby', midnight), bytes: 2 ** 53 - 1 };
  t.equal(decodeSegment(encodeSegment(big)).bytes, 2 ** 53 - 1, 'a 16-digit size comes back exactly');
  t.throws(() => decodeSegment(`2|${midnight}|${midnight + 1}|5|${sha}`), /cut short/, 'an entry missing fields is refused, not read half');
});
