import t from 'tap';
import type { FsckResult } from '../src/protocol.js';
import { cli, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig } from './helpers/daemon.js';
import { recordings } from './helpers/footage.js';
import { openStore, seedBulk } from './helpers/seed.js';

// fsck used to list the files, then read the index: a segment committed in between looked
// like a missing file, and --repair turned good footage into a file-lost gap. A store of
// tens of thousands of segments makes the walk long enough for two recording cameras to
// commit during it, again and again.
const SEEDED = 15_000;
const ROUNDS_MS = 25_000;

t.test('fsck --repair in a loop while two cameras record finds nothing and loses nothing', async (t) => {
  const dir = shortDir(t);
  const { index, store, close } = await openStore(dir);
  const from = Date.now() - 2 * 86_400_000;
  for (const camera of ['east', 'west']) await seedBulk(index, store.root, camera, { from, count: SEEDED, everyMs: 2000, lengthMs: 2000, bytes: 256 });
  await close();

  const cameras = ['east', 'west'].map((name) => ({ name, source: { kind: 'test-pattern', width: 160, height: 120, fps: 10 } }));
  const daemon = spawnDaemon(t, dir, writeConfig(dir, { cameras, retention: { maxAge: '30d', minFreeBytes: '1MB' } }));
  await waitForSocket(daemon.socket);
  await waitUntil('both cameras record', () => ['east', 'west'].every((c) => recordings(daemon.socket, c).segments.length >= 2));

  const problems: string[] = [];
  let runs = 0;
  let checked = 0;
  for (const until = Date.now() + ROUNDS_MS; Date.now() < until; runs++) {
    const r = cli(['fsck', '--repair', '--json'], { socket: daemon.socket });
    const result = JSON.parse(r.stdout) as FsckResult;
    problems.push(...result.problems.map((p) => `${p.kind} ${p.file}: ${p.detail} (${p.repair ?? 'no repair'})`));
    checked = result.checked.segments;
    t.equal(r.status, 0, `fsck run ${runs + 1}: exit 0`);
  }
  t.ok(runs >= 5, `${runs} fsck runs while recording`);
  t.ok(checked > 2 * SEEDED, `each checked the whole store (${checked} entries)`);
  t.same(problems, [], 'no problem reported in any run');
  daemon.proc.kill('SIGTERM');
  t.equal((await daemon.exited).code, 0);
  const after = await openStore(dir);
  t.teardown(after.close);
  for (const camera of ['east', 'west']) {
    const r = await after.store.range(camera, from - 1000, Date.now());
    t.equal(r.gaps.filter((g) => g.cause === 'file-lost').length, 0, `${camera}: no file-lost gap`);
    t.ok(r.segments.length > SEEDED, `${camera}: every seeded segment and the new ones are still indexed (${r.segments.length})`);
  }
});
