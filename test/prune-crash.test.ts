import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { FsckResult, PruneResult } from '../src/protocol.js';
import { cli, cliAsync, shortDir, spawnDaemon, waitForSocket, writeConfig } from './helpers/daemon.js';
import { openStore, seedSegments } from './helpers/seed.js';

function countFiles(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === '.incoming') continue;
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      continue; // deleted by the prune while we looked
    }
    n += isDir ? countFiles(path) : 1;
  }
  return n;
}

t.test('SIGKILL during a prune of 3,000 segments: after restart fsck finds the store consistent', async (t) => {
  const dir = shortDir(t);
  const day = 86_400_000;
  const { store, close } = await openStore(dir);
  await seedSegments(store, 'lobby', { from: Date.now() - 3 * day, count: 3000, everyMs: 10_000, lengthMs: 10_000, bytes: 2000 });
  await close();
  const configFile = writeConfig(dir, {
    retention: { maxAge: '1h', minFreeBytes: '1B' },
    cameras: [{ name: 'lobby', enabled: false, source: { kind: 'test-pattern' } }],
  });

  const first = spawnDaemon(t, dir, configFile);
  await waitForSocket(first.socket);
  const dry = JSON.parse(cli(['prune', '--dry-run', '--json'], { socket: first.socket }).stdout) as PruneResult;
  t.equal(dry.deleted.segments, 3000, 'a dry run counts all 3,000 as past maxAge');
  t.equal(countFiles(join(dir, 'store', 'lobby')), 3000, 'and deletes none');

  const pruning = cliAsync(['prune', '--json'], { socket: first.socket });
  // Kill while files are going: wait until some, not all, are gone.
  const deadline = Date.now() + 30_000;
  while (countFiles(join(dir, 'store', 'lobby')) > 2900 && Date.now() < deadline) await sleep(5);
  first.proc.kill('SIGKILL');
  await first.exited;
  await pruning;
  const left = countFiles(join(dir, 'store', 'lobby'));
  t.ok(left > 0 && left < 3000, `killed halfway: ${left} of 3000 files left`);

  const second = spawnDaemon(t, dir, configFile);
  await waitForSocket(second.socket);
  const check = cli(['fsck', '--json'], { socket: second.socket });
  const fsck = JSON.parse(check.stdout) as FsckResult;
  t.equal(check.status, 0, 'fsck exits 0');
  t.same(fsck.problems, [], 'no problems: the interrupted deletion was completed at start-up');
  t.equal(fsck.checked.segments, countFiles(join(dir, 'store', 'lobby')), 'as many entries as files');

  const rest = JSON.parse(cli(['prune', '--json'], { socket: second.socket }).stdout) as PruneResult;
  t.equal(rest.deleted.segments, fsck.checked.segments, 'the next prune deletes the rest');
  t.equal(countFiles(join(dir, 'store', 'lobby')), 0);
  const receipts = JSON.parse(cli(['receipts', '--json'], { socket: second.socket }).stdout) as {
    sha256: string;
    interrupted: boolean;
    deleted: { segments: number };
    cameras: { camera: string; segments: number }[];
  }[];
  t.equal(receipts.length, 2, 'two receipts: the killed prune and the one after');
  t.match(receipts[0], { interrupted: true, deleted: { segments: 3000 - rest.deleted.segments } }, 'the killed prune is on record with everything it deleted');
  t.equal(receipts[1]?.sha256, rest.receiptSha256, 'libcam receipts shows the last prune with its fingerprint');
  t.equal(receipts[1]?.cameras[0]?.segments, rest.deleted.segments);
  second.proc.kill('SIGTERM');
  await second.exited;
});

t.test('fsck reports a missing file and --repair turns it into a file-lost gap; exit 1 until repaired', async (t) => {
  const dir = shortDir(t);
  const { store, close } = await openStore(dir);
  const from = Date.now() - 600_000;
  await seedSegments(store, 'lobby', { from, count: 5, everyMs: 10_000, lengthMs: 10_000, bytes: 500 });
  await close();
  const configFile = writeConfig(dir, { cameras: [{ name: 'lobby', enabled: false, source: { kind: 'test-pattern' } }] });
  const daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  const victim = join(dir, 'store', 'lobby', new Date(from + 20_000).toISOString().slice(0, 10).replace(/-/g, '/'), `${from + 20_000}.mp4`);
  unlinkSync(victim);
  const found = cli(['fsck'], { socket: daemon.socket });
  t.equal(found.status, 1);
  t.match(found.stdout, /1 problems/);
  t.match(found.stdout, /missing-file/);
  const repaired = cli(['fsck', '--repair', '--json'], { socket: daemon.socket });
  t.equal(repaired.status, 0);
  t.match(JSON.parse(repaired.stdout), { problems: [{ kind: 'missing-file', repair: /file-lost gap/ }] });
  t.equal(cli(['fsck'], { socket: daemon.socket }).status, 0, 'consistent afterwards');
  const r = JSON.parse(cli(['recordings', '--camera', 'lobby', '--json'], { socket: daemon.socket }).stdout) as { gaps: { cause: string; start: string }[] };
  t.match(r.gaps, [{ cause: 'file-lost', start: new Date(from + 20_000).toISOString() }]);
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('store identity: an unmounted (empty) or foreign store folder is refused with a clear message', async (t) => {
  const a = shortDir(t);
  const configA = writeConfig(a, { cameras: [{ name: 'lobby', source: { kind: 'test-pattern', width: 160, height: 120, fps: 5 } }] });
  const first = spawnDaemon(t, a, configA);
  await waitForSocket(first.socket);
  first.proc.kill('SIGTERM');
  await first.exited;

  // The disk is not mounted: the mount point is an empty folder on the root filesystem.
  const { renameSync, mkdirSync, readdirSync: list } = await import('node:fs');
  renameSync(join(a, 'store'), join(a, 'store.disk'));
  mkdirSync(join(a, 'store'));
  const unmounted = spawnDaemon(t, a, configA);
  const exit = await unmounted.exited;
  t.not(exit.code, 0, 'libcamd refuses to start');
  t.match(unmounted.stderr(), `refusing to record into ${join(a, 'store')}: the folder is empty`);
  t.match(unmounted.stderr(), "Is the store's disk mounted?");
  t.same(list(join(a, 'store')), [], 'and wrote nothing into the empty folder');

  // Another store's disk mounted there.
  const b = shortDir(t);
  const configB = writeConfig(b, { cameras: [{ name: 'lobby', enabled: false, source: { kind: 'test-pattern' } }] });
  const other = spawnDaemon(t, b, configB);
  await waitForSocket(other.socket);
  other.proc.kill('SIGTERM');
  await other.exited;
  const { rmSync, cpSync } = await import('node:fs');
  rmSync(join(a, 'store'), { recursive: true });
  cpSync(join(b, 'store'), join(a, 'store'), { recursive: true });
  const foreign = spawnDaemon(t, a, configA);
  t.not((await foreign.exited).code, 0);
  t.match(foreign.stderr(), 'a different disk is mounted there');

  // The right disk back: it records again.
  rmSync(join(a, 'store'), { recursive: true });
  renameSync(join(a, 'store.disk'), join(a, 'store'));
  const back = spawnDaemon(t, a, configA);
  await waitForSocket(back.socket);
  t.equal(cli(['status'], { socket: back.socket }).status, 0, 'with its own store back, libcamd starts');
  back.proc.kill('SIGTERM');
  await back.exited;
});
