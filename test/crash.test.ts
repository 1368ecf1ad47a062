import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { shortDir, spawnDaemon, waitForSocket, writeConfig } from './helpers/daemon.js';
import { ffmpegErrors, recordings, sha256File } from './helpers/footage.js';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

t.test('SIGKILL mid-segment: the cut segment is indexed and plays, a daemon-down gap covers the downtime', async (t) => {
  const dir = shortDir(t);
  const configFile = writeConfig(dir, {
    store: { path: join(dir, 'store'), segmentSeconds: 6 },
    cameras: [{ name: 'lobby', source: { kind: 'test-pattern', width: 320, height: 240, fps: 10 } }],
  });
  const first = spawnDaemon(t, dir, configFile);
  await waitForSocket(first.socket);
  // Let one segment close, then kill 2-3 s into the next one.
  const deadline = Date.now() + 30_000;
  while (recordings(first.socket, 'lobby').segments.length < 1 && Date.now() < deadline) await sleep(200);
  await sleep(2500);
  first.proc.kill('SIGKILL');
  const killedAt = Date.now();
  await first.exited;
  await sleep(2000);

  const second = spawnDaemon(t, dir, configFile);
  await waitForSocket(second.socket);
  const restartedAt = Date.now();
  while (recordings(second.socket, 'lobby').segments.length < 3 && Date.now() < deadline + 30_000) await sleep(200);
  second.proc.kill('SIGTERM');
  await second.exited;
  const third = spawnDaemon(t, dir, configFile); // to read the index once every file is closed
  await waitForSocket(third.socket);
  const r = recordings(third.socket, 'lobby');

  const cut = r.segments[1];
  t.ok(cut, 'the segment being written at the kill is indexed');
  const cutMs = Date.parse(cut?.end ?? '') - Date.parse(cut?.start ?? '');
  t.ok(cutMs >= 1000 && cutMs < 6000, `with its true, playable length (${cutMs} ms of a 6 s segment)`);
  t.ok(Date.parse(cut?.end ?? '') <= killedAt, 'ending before the kill');
  // splitmuxsink holds back the current GOP (1 s here) to decide where to split, and
  // mp4mux writes half-second fragments: that much, and no more, is lost to a kill.
  const lostMs = killedAt - Date.parse(cut?.end ?? '');
  t.ok(lostMs <= 2500, `no more than one GOP and one fragment of video lost to the kill (${lostMs} ms)`);
  t.equal(ffmpegErrors(join(dir, 'store', cut?.file ?? '')), '', 'and it plays without an error');

  const down = r.gaps.find((g) => g.cause === 'daemon-down');
  t.ok(down, 'a daemon-down gap is recorded');
  t.equal(down?.start, cut?.end, 'from the end of the cut segment');
  t.ok(Date.parse(down?.end ?? '') >= restartedAt - 3000, 'to when recording started again');
  t.equal(down?.end, r.segments[2]?.start, 'where the next segment begins');

  const indexed = r.segments.map((s) => s.file).sort();
  const stored = filesUnder(join(dir, 'store', 'lobby'))
    .filter((f) => !f.includes('/.incoming/'))
    .map((f) => relative(join(dir, 'store'), f))
    .sort();
  t.same(stored, indexed, 'every file has an index entry and every entry a file');
  t.ok(
    r.segments.every((s) => sha256File(join(dir, 'store', s.file)) === s.sha256),
    'and every file has the size and hash its entry says',
  );
  t.ok(r.segments.every((s, i) => i === 0 || s.prev === r.segments[i - 1]?.sha256), 'the hash chain links across the crash');
  third.proc.kill('SIGTERM');
  await third.exited;
});
