import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import t, { type Test } from 'tap';
import { parseDuration, parseSize } from '../src/config/units.js';
import { Holds } from '../src/store/holds.js';
import { Pruner, type RetentionLimits } from '../src/store/retention.js';
import type { SegmentEntry, SegmentStore } from '../src/store/segments.js';
import { shortDir } from './helpers/daemon.js';
import { FakeClock } from './helpers/fakeClock.js';
import { openStore, seedBulk, seedSegments } from './helpers/seed.js';

// Real LevelDB and real files; the clock and the filesystem's free space are injected.
const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-28T12:00:00Z');

/** Retention limits as the configuration writes them (durations and sizes as text). */
interface Retention {
  maxAge: string;
  maxBytes?: string;
  minFreeBytes: string;
}

function limits(retention: Retention, perCamera: Record<string, string> = {}): RetentionLimits {
  const ms = (text: string): number => parseDuration(text) ?? Number.NaN;
  return {
    maxAgeMs: (camera) => ms(perCamera[camera] ?? retention.maxAge),
    maxBytes: retention.maxBytes === undefined ? undefined : parseSize(retention.maxBytes),
    minFreeBytes: parseSize(retention.minFreeBytes) ?? Number.NaN,
  };
}

async function all(store: SegmentStore, camera: string): Promise<SegmentEntry[]> {
  const out: SegmentEntry[] = [];
  for await (const s of store.segmentsOf(camera)) out.push(s);
  return out;
}

/** 48 hourly segments of 1000 bytes for each camera, the newest ending just before NOW. */
async function setup(t: Test, retention: Retention, perCamera: Record<string, string> = {}, free = 1e12) {
  const dir = shortDir(t);
  const { index, store, close } = await openStore(dir);
  t.teardown(close);
  for (const camera of ['lobby', 'stacks']) await seedSegments(store, camera, { from: NOW - 48 * HOUR, count: 48, everyMs: HOUR, lengthMs: 600_000, bytes: 1000 });
  const clock = new FakeClock(NOW);
  const holds = new Holds(index, store, clock);
  const pruner = new Pruner({ limits: limits(retention, perCamera), storePath: join(dir, 'store'), store, holds, index, log: pino({ level: 'silent' }), clock, freeBytes: () => Promise.resolve(free) });
  return { dir, store, holds, pruner };
}

t.test('by age, global and per camera; held segments survive; --dry-run deletes nothing', async (t) => {
  const { dir, store, holds, pruner } = await setup(t, { maxAge: '1d', minFreeBytes: '1B' }, { stacks: '6h' });
  const held = await holds.place('lobby', NOW - 40 * HOUR, NOW - 38 * HOUR + 1, 'incident 1');

  const dry = await pruner.prune(true);
  t.equal(dry.dryRun, true);
  t.equal((await all(store, 'lobby')).length, 48, 'a dry run deletes nothing');
  t.equal(dry.kept.held, 3, 'three hourly segments fall under the hold');

  const before = [...(await all(store, 'lobby')), ...(await all(store, 'stacks'))];
  const real = await pruner.prune(false);
  t.same(real.deleted, dry.deleted, 'the real prune does what the dry run said');
  t.equal(real.receiptSha256, dry.receiptSha256, 'down to the receipt fingerprint');
  const lobby = await all(store, 'lobby');
  const stacks = await all(store, 'stacks');
  t.equal(lobby.filter((s) => s.end <= NOW - 24 * HOUR && !(s.start < held.to && s.end > held.from)).length, 0, 'lobby keeps 1 day (global maxAge)');
  t.equal(lobby.filter((s) => s.start < held.to && s.end > held.from).length, 3, 'and the held segments, though older');
  t.equal(stacks.length, 6, 'stacks keeps 6 h (its own maxAge)');
  t.equal(real.byReason.age, real.deleted.segments);
  for (const s of stacks) t.ok(existsSync(join(dir, 'store', s.file)), `${s.file} kept on disk`);
  const kept = new Set([...lobby, ...stacks].map((s) => s.file));
  const gone = before.filter((s) => !kept.has(s.file));
  t.equal(gone.length, real.deleted.segments);
  t.ok(gone.every((s) => !existsSync(join(dir, 'store', s.file))), 'every deleted segment\'s file is gone');
  t.notOk(existsSync(join(dir, 'store', 'stacks', '2026', '11', '26')), 'and the day folder it left empty');

  const again = await pruner.prune(false);
  t.equal(again.deleted.segments, 0, 'a second prune finds nothing to do');
  const receipts = await pruner.listReceipts();
  t.equal(receipts.length, 1, 'one receipt for the prune that deleted something');
  t.equal(receipts[0]?.sha256, real.receiptSha256);
  t.match(receipts[0]?.cameras, [{ camera: 'lobby' }, { camera: 'stacks', segments: 42, bytes: 42_000 }]);
});

t.test('by size: the oldest footage of any camera goes first, held footage stays', async (t) => {
  const { store, holds, pruner } = await setup(t, { maxAge: '30d', maxBytes: '40KB', minFreeBytes: '1B' });
  await holds.place('stacks', NOW - 48 * HOUR, NOW - 46 * HOUR, 'incident 2');
  const r = await pruner.prune(false);
  t.equal(r.byReason.size, r.deleted.segments);
  const left = [...(await all(store, 'lobby')), ...(await all(store, 'stacks'))];
  t.equal(left.reduce((sum, s) => sum + s.bytes, 0), 40_000, 'exactly maxBytes of footage left');
  t.equal(left.filter((s) => s.camera === 'stacks' && s.start < NOW - 46 * HOUR).length, 2, 'the two oldest, held, remain');
  const unheld = left.filter((s) => s.start >= NOW - 46 * HOUR);
  t.ok(Math.min(...unheld.map((s) => s.start)) >= NOW - 20 * HOUR, 'the rest are the newest');
});

t.test('by reserve: deletes until the filesystem has minFreeBytes free', async (t) => {
  const { store, pruner } = await setup(t, { maxAge: '30d', minFreeBytes: '50KB' }, {}, 10_000);
  const r = await pruner.prune(false);
  t.equal(r.byReason.reserve, 40, '40 KB freed on top of the 10 KB free');
  t.equal((await all(store, 'lobby')).length + (await all(store, 'stacks')).length, 56);
});

t.test('one prune at a time', async (t) => {
  const { pruner } = await setup(t, { maxAge: '1h', minFreeBytes: '1B' });
  const first = pruner.prune(false);
  await t.rejects(pruner.prune(false), { code: 'conflict', message: /a prune is already running/ });
  t.ok((await first).deleted.segments > 0);
});

t.test('a segment being read is not deleted under its reader, and goes at the next prune', async (t) => {
  const { store, pruner } = await setup(t, { maxAge: '1h', minFreeBytes: '1B' });
  const oldest = (await all(store, 'lobby'))[0];
  if (!oldest) throw new Error('no segments');
  const during = await store.reading(oldest, async (path) => {
    const r = await pruner.prune(false);
    t.ok(existsSync(path), 'the file is still there while it is read');
    return r;
  });
  t.equal(during.kept.inUse, 1, 'the prune said it kept one segment in use');
  t.equal((await all(store, 'lobby'))[0]?.start, oldest.start, 'and kept its entry');
  const after = await pruner.prune(false);
  t.equal(after.deleted.segments, 1, 'the next prune takes it');
});

t.test('a hold placed while a large prune runs is respected by every deletion after it', async (t) => {
  const dir = shortDir(t);
  const { index, store, close } = await openStore(dir);
  t.teardown(close);
  const count = 3000;
  const from = NOW - 10 * HOUR;
  await seedBulk(index, store.root, 'lobby', { from, count, everyMs: 10_000, lengthMs: 10_000, bytes: 256 });
  const clock = new FakeClock(NOW);
  const holds = new Holds(index, store, clock);
  const pruner = new Pruner({ limits: limits({ maxAge: '1h', minFreeBytes: '1B' }), storePath: join(dir, 'store'), store, holds, index, log: pino({ level: 'silent' }), clock, freeBytes: () => Promise.resolve(1e12) });

  const pruning = pruner.prune(false);
  await sleep(30);
  // The newest footage prune is deleting: its last round.
  const heldFrom = from + (count - 60) * 10_000;
  const hold = await holds.place('lobby', heldFrom, heldFrom + 10 * 10_000, 'incident during prune');
  const result = await pruning;
  t.ok(result.deleted.segments > 2000, `the prune deleted most of the footage (${result.deleted.segments})`);
  const left = await all(store, 'lobby');
  const held = left.filter((s) => s.start < hold.to && s.end > hold.from);
  t.equal(held.length, 10, 'every segment under the hold is still indexed');
  t.ok(held.every((s) => existsSync(join(dir, 'store', s.file))), 'and on disk');
  t.ok(result.kept.held >= 10, `the prune counts them as kept because held (${result.kept.held})`);
});
