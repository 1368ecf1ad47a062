import t from 'tap';
import { shortDir } from './helpers/daemon.js';
import { openStore, seedSegments } from './helpers/seed.js';

// Real LevelDB and files: what `libcam recordings` and `libcam still` read from the index.
const MIN = 60_000;
const T0 = Date.parse('2026-11-28T08:00:00Z');

t.test('a range lists the gaps that reach into it, however early they began, and no others', async (t) => {
  const { store, close } = await openStore(shortDir(t));
  t.teardown(close);
  await seedSegments(store, 'lobby', { from: T0, count: 3, everyMs: 10_000, lengthMs: 10_000, bytes: 100 });
  // Many short outages early on, then one long one (the camera was off for an hour).
  for (let i = 0; i < 50; i++) await store.endGap(await store.beginGap('lobby', T0 + MIN + i * 1000, 'camera-lost'), T0 + MIN + i * 1000 + 500);
  await store.endGap(await store.beginGap('lobby', T0 + 10 * MIN, 'camera-lost'), T0 + 70 * MIN);
  await store.beginGap('lobby', T0 + 90 * MIN, 'paused-privacy'); // still open
  await store.beginGap('stacks', T0 + 30 * MIN, 'paused-maintenance');

  const inLongOutage = await store.range('lobby', T0 + 30 * MIN, T0 + 40 * MIN);
  t.same(inLongOutage.gaps.map((g) => [g.start - T0, g.cause]), [[10 * MIN, 'camera-lost']], 'the hour-long gap that began 20 minutes earlier');
  t.same(inLongOutage.segments, []);

  const open = await store.range('lobby', T0 + 100 * MIN, T0 + 110 * MIN);
  t.same(open.gaps.map((g) => [g.start - T0, g.end, g.cause]), [[90 * MIN, null, 'paused-privacy']], 'an open gap from before the range');

  const early = await store.range('lobby', T0, T0 + MIN + 10_000);
  t.equal(early.segments.length, 3);
  t.equal(early.gaps.length, 10, 'the ten short gaps in the first ten seconds after minute one');
  t.ok(early.gaps.every((g) => g.cause === 'camera-lost'), 'and not the other camera\'s');

  const around = await store.around('lobby', T0 + 40 * MIN);
  t.match(around, { holding: undefined, before: { start: T0 + 20_000 }, after: undefined, gap: { cause: 'camera-lost', start: T0 + 10 * MIN } }, 'around names the gap and the footage before it');
});
