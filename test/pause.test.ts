import t from 'tap';
import type { AuditEntryInfo, PauseResult, StatusResult } from '../src/protocol.js';
import { cli, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig } from './helpers/daemon.js';
import { holes, recordings, type Recordings } from './helpers/footage.js';

const SEGMENT_MS = 2000;
const cameras = ['east', 'west'].map((name) => ({ name, source: { kind: 'test-pattern', width: 160, height: 120, fps: 10 } }));


const statusOf = (socket: string): StatusResult => JSON.parse(cli(['status', '--json'], { socket }).stdout) as StatusResult;

t.test('pause one camera of two: a labelled gap, nothing recorded in it, back by itself', async (t) => {
  const dir = shortDir(t);
  const daemon = spawnDaemon(t, dir, writeConfig(dir, { cameras }));
  await waitForSocket(daemon.socket);
  await waitUntil('east records', () => recordings(daemon.socket, 'east').segments.length >= 2);

  const r = cli(['pause', '--camera', 'east', '--reason', 'privacy', '--for', '6s', '--note', 'story time', '--json'], { socket: daemon.socket });
  t.equal(r.status, 0, r.stderr);
  const paused = JSON.parse(r.stdout) as PauseResult;
  const pausedAt = Date.now();
  const endsAt = Date.parse(paused.paused[0]?.until ?? '');
  t.match(paused, { paused: [{ camera: 'east', reason: 'privacy', mode: 'new' }] });

  const during = statusOf(daemon.socket).cameras.find((c) => c.name === 'east');
  t.match(during, { state: 'paused', pause: { reason: 'privacy', by: /\S/, note: 'story time', until: paused.paused[0]?.until } }, 'status shows reason, who, note, end');

  let east: Recordings = recordings(daemon.socket, 'east');
  await waitUntil('east records again by itself', () => {
    east = recordings(daemon.socket, 'east');
    return east.segments.some((s) => Date.parse(s.start) >= endsAt);
  });
  const gap = east.gaps.find((g) => g.cause === 'paused-privacy');
  t.ok(gap, 'a paused-privacy gap');
  const gapStart = Date.parse(gap?.start ?? '');
  const gapEnd = Date.parse(gap?.end ?? '');
  t.ok(gapStart <= pausedAt && gapEnd >= endsAt, 'covering the pause');
  t.ok(
    east.segments.every((s) => Date.parse(s.end) <= gapStart || Date.parse(s.start) >= gapEnd),
    'no segment overlaps the pause',
  );
  const first = east.segments.find((s) => Date.parse(s.start) >= gapEnd);
  const lateBy = Date.parse(first?.start ?? '') - endsAt;
  t.ok(lateBy <= SEGMENT_MS, `recording resumed within one segment length of the end time (${lateBy} ms)`);

  const west = recordings(daemon.socket, 'west');
  t.equal(west.gaps.length, 0, 'the other camera has no gap');
  const westSpan = (Date.parse(west.segments.at(-1)?.end ?? '') - Date.parse(west.segments[0]?.start ?? '')) / 1000;
  t.ok(westSpan >= (endsAt - pausedAt) / 1000, `the other camera recorded through the whole pause (${westSpan} s of footage)`);
  const westHoles = holes(west).map(Math.abs);
  t.ok(westHoles.length >= 3 && westHoles.every((h) => h <= 100), `back to back (holes ${westHoles.join(', ')} ms)`);

  const audit = JSON.parse(cli(['audit', 'list', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];
  t.match(
    audit.filter((e) => e.action === 'pause' || e.action === 'resume'),
    [
      { action: 'pause', subject: 'east', actor: { user: /\S/ }, details: { reason: 'privacy', note: 'story time' } },
      { action: 'resume', subject: 'east', actor: { user: 'libcamd' }, details: { automatic: true } },
    ],
    'the pause and its automatic end are in the audit trail',
  );
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('a pause outlives a daemon restart, then ends on time', async (t) => {
  const dir = shortDir(t);
  const configFile = writeConfig(dir, { cameras });
  const first = spawnDaemon(t, dir, configFile);
  await waitForSocket(first.socket);
  await waitUntil('east records', () => recordings(first.socket, 'east').segments.length >= 1);
  const paused = JSON.parse(cli(['pause', '--camera', 'east', '--reason', 'maintenance', '--for', '10s', '--json'], { socket: first.socket }).stdout) as PauseResult;
  const endsAt = Date.parse(paused.paused[0]?.until ?? '');
  first.proc.kill('SIGTERM');
  await first.exited;

  const second = spawnDaemon(t, dir, configFile);
  await waitForSocket(second.socket);
  t.match(statusOf(second.socket).cameras.find((c) => c.name === 'east'), { state: 'paused', pause: { reason: 'maintenance' } }, 'still paused after the restart');
  const before = recordings(second.socket, 'east').segments.filter((s) => Date.parse(s.start) > endsAt - 10_000).length;
  t.equal(before, 0, 'and nothing recorded meanwhile');
  await waitUntil('east records again', () => recordings(second.socket, 'east').segments.some((s) => Date.parse(s.start) >= endsAt));
  const east = recordings(second.socket, 'east');
  const first2 = east.segments.find((s) => Date.parse(s.start) >= endsAt - 1000);
  t.ok(Date.parse(first2?.start ?? '') - endsAt <= SEGMENT_MS, 'resumed on time');
  t.ok(east.gaps.some((g) => g.cause === 'paused-maintenance'), 'the gap is labelled paused-maintenance');
  second.proc.kill('SIGTERM');
  await second.exited;
});

t.test('--all, resume early, extend; bad input named and refused with exit 2', async (t) => {
  const dir = shortDir(t);
  const daemon = spawnDaemon(t, dir, writeConfig(dir, { cameras }));
  await waitForSocket(daemon.socket);
  const all = JSON.parse(cli(['pause', '--all', '--reason', 'maintenance', '--for', '5m', '--json'], { socket: daemon.socket }).stdout) as PauseResult;
  t.same(all.paused.map((p) => p.camera), ['east', 'west'], '--all pauses every camera');
  t.same(statusOf(daemon.socket).cameras.map((c) => c.state), ['paused', 'paused']);
  const again = JSON.parse(cli(['pause', '--camera', 'east', '--reason', 'maintenance', '--for', '10m', '--json'], { socket: daemon.socket }).stdout) as PauseResult;
  t.equal(again.paused[0]?.mode, 'extended', 'pausing again with the same reason extends');
  const other = JSON.parse(cli(['pause', '--camera', 'east', '--reason', 'privacy', '--for', '10m', '--json'], { socket: daemon.socket }).stdout) as PauseResult;
  t.equal(other.paused[0]?.mode, 'replaced', 'with another reason replaces');

  const resumed = cli(['resume', '--camera', 'west', '--json'], { socket: daemon.socket });
  t.same(JSON.parse(resumed.stdout), { resumed: ['west'] });
  await waitUntil('west records again', () => statusOf(daemon.socket).cameras.find((c) => c.name === 'west')?.state === 'recording');
  t.pass('resume before the end time takes effect at once');

  // Each refusal: exit 2 and a message naming the flag.
  const refusals: [string[], string | RegExp][] = [
    [['--camera', 'east', '--reason', 'privacy', '--for', '9h'], '--for: 9h is longer than pause.maxDuration (8h)'],
    [['--camera', 'east', '--for', '5m'], '--reason'],
    [['--camera', 'east', '--reason', 'lunch', '--for', '5m'], /--reason.*lunch.*maintenance, privacy/],
    [['--camera', 'attic', '--reason', 'privacy', '--for', '5m'], '--camera: no camera named "attic"'],
    [['--reason', 'privacy', '--for', '5m'], '--camera C or --all'],
  ];
  for (const [args, message] of refusals) {
    const r = cli(['pause', ...args], { socket: daemon.socket });
    t.equal(r.status, 2, `pause ${args.join(' ')}: exit 2`);
    t.match(r.stderr, message);
  }
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('a pause longer than Node\'s 24.8-day timer limit does not end at once', async (t) => {
  const dir = shortDir(t);
  const daemon = spawnDaemon(t, dir, writeConfig(dir, { cameras, pause: { maxDuration: '60d' } }));
  await waitForSocket(daemon.socket);
  const r = cli(['pause', '--camera', 'east', '--reason', 'maintenance', '--for', '30d', '--json'], { socket: daemon.socket });
  t.equal(r.status, 0, r.stderr);
  await new Promise((res) => setTimeout(res, 3000));
  t.match(statusOf(daemon.socket).cameras.find((c) => c.name === 'east'), { state: 'paused', pause: { reason: 'maintenance' } }, 'still paused 3 s later');
  const audit = JSON.parse(cli(['audit', 'list', '--action', 'resume', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];
  t.same(audit, [], 'no automatic resume on record');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});
