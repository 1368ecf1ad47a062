import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t, { type Test } from 'tap';
import { fsck } from '../src/store/fsck.js';
import { Holds } from '../src/store/holds.js';
import { IDENTITY_FILE, checkStoreIdentity } from '../src/store/identity.js';
import { Pruner } from '../src/store/retention.js';
import { segKey, type ChainHead, type SegmentEntry } from '../src/store/segments.js';
import { segmentEncoding } from '../src/store/segmentCodec.js';
import { shortDir } from './helpers/daemon.js';
import { FakeClock } from './helpers/fakeClock.js';
import { openStore, seedSegments } from './helpers/seed.js';

// Each invariant of docs/design.md broken on purpose in a real index and store, and fsck
// naming it (and, where repair may, repairing it).
const FROM = Date.parse('2026-11-20T10:00:00Z');
const SEG = 10_000;

async function rig(t: Test) {
  const dir = shortDir(t);
  const { index, store, close } = await openStore(dir);
  t.teardown(close);
  await seedSegments(store, 'lobby', { from: FROM, count: 10, everyMs: SEG, lengthMs: SEG, bytes: 100 });
  await checkStoreIdentity(index, store.root);
  const clock = new FakeClock(FROM + 30 * 86_400_000);
  const holds = new Holds(index, store, clock);
  const seg = index.db.sublevel<string, SegmentEntry>('seg', { valueEncoding: segmentEncoding });
  const head = index.db.sublevel<string, ChainHead>('head', { valueEncoding: 'json' });
  const entry = async (i: number): Promise<SegmentEntry> => {
    const e = await seg.get(segKey('lobby', FROM + i * SEG));
    if (!e) throw new Error(`no segment ${i}`);
    return e;
  };
  const check = (repair = false) => fsck(store, holds, { repair, deep: false });
  return { dir, index, store, holds, clock, seg, head, entry, check };
}

t.test('a consistent store: nothing to report', async (t) => {
  const r = await rig(t);
  const report = await r.check();
  t.same(report.problems, []);
  t.equal(report.checked.segments, 10);
});

t.test('invariant 5: a segment whose prev is not the hash before it is a chain break', async (t) => {
  const r = await rig(t);
  const fifth = await r.entry(5);
  await r.seg.put(segKey('lobby', fifth.start), { ...fifth, prev: 'f'.repeat(64) });
  const report = await r.check(true);
  t.match(report.problems, [{ kind: 'chain-break', file: fifth.file, repaired: false }]);
});

t.test('invariant 5: a break where a prune deleted around a hold is explained', async (t) => {
  const r = await rig(t);
  const held = await r.entry(4);
  await r.holds.place('lobby', held.start, held.end, 'incident');
  const pruner = new Pruner({
    limits: { maxAgeMs: () => 86_400_000, minFreeBytes: 0 },
    storePath: r.store.root,
    store: r.store,
    holds: r.holds,
    index: r.index,
    log: pino({ level: 'silent' }),
    clock: r.clock,
    freeBytes: () => Promise.resolve(1e12),
  });
  t.equal((await pruner.prune(false)).deleted.segments, 9, 'everything but the held segment went');
  await seedSegments(r.store, 'lobby', { from: FROM + 20 * SEG, count: 2, everyMs: SEG, lengthMs: SEG, bytes: 100 });
  t.same((await r.check()).problems, [], 'the held segment and the next one do not link, and that is on record');
});

t.test('invariant 4: overlapping segments', async (t) => {
  const r = await rig(t);
  const third = await r.entry(3);
  await r.seg.put(segKey('lobby', third.start), { ...third, end: third.end + 4000 });
  t.match((await r.check()).problems, [{ kind: 'overlap', detail: /starts 4000 ms before/ }]);
});

t.test('invariant 6: a head that miscounts is counted again by repair', async (t) => {
  const r = await rig(t);
  const head = await r.head.get('lobby');
  if (!head) throw new Error('no head');
  await r.head.put('lobby', { ...head, segments: 99, bytes: 5 });
  const report = await r.check(true);
  t.match(report.problems, [{ kind: 'head-mismatch', detail: /counts 99 segments and 5 bytes; the index holds 10 and 1000/, repaired: true }]);
  t.match(await r.head.get('lobby'), { segments: 10, bytes: 1000, sha256: head.sha256 }, 'recounted, the hash kept');
  t.same((await r.check()).problems, []);
});

t.test('invariant 7: a store folder that is not the one the index was made for', async (t) => {
  const r = await rig(t);
  writeFileSync(join(r.store.root, IDENTITY_FILE), JSON.stringify({ storeId: 'another-disk', created: '2026-01-01T00:00:00Z' }));
  t.match((await r.check()).problems, [{ kind: 'store-identity', detail: /is store another-disk, but the index belongs to store/ }]);
});

t.test('invariant 8: a clip of an open incident that is gone or changed', async (t) => {
  const r = await rig(t);
  const clips = [
    { camera: 'lobby', file: '.incidents/INC-20261120-001/lobby.mp4', bytes: 10, sha256: 'a'.repeat(64) },
    { camera: 'lobby', file: '.incidents/INC-20261120-002/lobby.mp4', bytes: 10, sha256: 'b'.repeat(64) },
  ];
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(r.store.root, '.incidents', 'INC-20261120-002'), { recursive: true });
  writeFileSync(join(r.store.root, clips[1]?.file ?? ''), 'twelve bytes');
  const report = await fsck(r.store, r.holds, { repair: true, deep: false }, clips);
  t.match(report.problems, [
    { kind: 'clip-missing', file: clips[0]?.file, repaired: false },
    { kind: 'clip-mismatch', detail: '12 bytes on disk, 10 in the incident', repaired: false },
  ]);
  t.equal(report.checked.files, 10, 'clip files are not taken for segments');
});
