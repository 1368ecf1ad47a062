import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { AuditEntryInfo, HoldInfo, IncidentInfo } from '../src/protocol.js';
import { cli, cliAsync, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { ffmpegErrors, ffprobe, recordings, sha256File } from './helpers/footage.js';
import { SmtpSink } from './helpers/smtpSink.js';

// A real daemon with two test-pattern cameras (2 s segments, a keyframe every second),
// incidents opened with the CLI, clips checked with ffmpeg and ffprobe.
const dir = shortDir(t);
const root = t; // a daemon restarted inside a subtest must outlive it
const relay = new SmtpSink();
const cameras = [
  ...['east', 'west'].map((name) => ({ name, source: { kind: 'test-pattern', width: 320, height: 240, fps: 10, pattern: 'ball' } })),
  { name: 'annex', enabled: false, source: { kind: 'test-pattern' } },
];
let configFile = '';
let daemon: RunningDaemon;
const ask = ['--purpose', 'crime-investigation', '--requested-by', 'J. Rivera, Director'];
const iso = (ms: number): string => new Date(ms).toISOString();

function isolate(args: string[]): IncidentInfo {
  const r = cli(['isolate', '--json', ...args], { socket: daemon.socket });
  if (r.status !== 0) throw new Error(`isolate ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { incident: IncidentInfo }).incident;
}
const show = (id: string): IncidentInfo => JSON.parse(cli(['incidents', 'show', id, '--json'], { socket: daemon.socket }).stdout) as IncidentInfo;
const clipPath = (path: string): string => join(dir, 'store', path);

/** Presentation times of a file's video packets, in seconds. */
function packetTimes(file: string): number[] {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
}

t.before(async () => {
  await relay.start();
  configFile = writeConfig(dir, {
    cameras,
    retention: { maxAge: '8s', minFreeBytes: '1MB' },
    notify: { director: { email: 'director@library.example' }, smtp: { host: '127.0.0.1', port: relay.port, from: 'libcam@library.example' } },
  });
  daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  await waitUntil('both cameras have 10 s of footage', () => ['east', 'west'].every((c) => recordings(daemon.socket, c).segments.length >= 6), 60_000);
});
t.teardown(async () => {
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
  await relay.stop();
});

t.test('recorded footage of two cameras: held, cut without re-encoding, and it survives a prune', async (t) => {
  const from = Date.now() - 9000;
  const to = Date.now() - 3000;
  const incident = isolate(['--camera', 'east', '--camera', 'west', '--from', iso(from), '--to', iso(to), ...ask, '--note', 'wallet taken from the lobby desk', '--patron', 'P-1042']);
  t.match(incident.id, /^INC-\d{8}-\d{3}$/);
  t.match(incident, { state: 'open', cameras: ['east', 'west'], purpose: 'crime-investigation', requestedBy: 'J. Rivera, Director', patrons: ['P-1042'] });
  t.equal(incident.clips.length, 2, 'one clip per camera');
  for (const clip of incident.clips) {
    const file = clipPath(clip.path);
    t.equal(ffmpegErrors(file), '', `${clip.camera}: decodes cleanly`);
    const probe = ffprobe(file);
    t.same(probe.streams.map((s) => `${s.codec_type}/${s.codec_name}`), ['video/h264'], `${clip.camera}: one video stream, the camera's codec, no audio`);
    t.equal(sha256File(file), clip.sha256, `${clip.camera}: SHA-256 as recorded in the index`);
    const start = Date.parse(clip.start);
    t.ok(start <= from && from - start <= 1000, `${clip.camera}: starts at the keyframe at or before --from (${from - start} ms earlier, one GOP is 1000 ms)`);
    t.equal(clip.earlierMs, from - start, 'and says by how much');
    const footage = (Date.parse(clip.end) - start) / 1000;
    t.ok(Math.abs(Number(probe.format.duration) - footage) <= 0.15, `${clip.camera}: plays for the footage in range (${probe.format.duration} s of ${footage} s)`);
    const end = Date.parse(clip.end);
    t.ok(end > to - 200 && end <= to + 100, `${clip.camera}: ends with the last frame that begins before --to (${end - to} ms, a frame is 100 ms)`);
  }
  const holds = JSON.parse(cli(['holds', 'list', '--json'], { socket: daemon.socket }).stdout) as HoldInfo[];
  t.same(holds.filter((h) => h.reason === `incident ${incident.id}`).map((h) => h.camera).sort(), ['east', 'west'], 'a hold per camera');

  // retention.maxAge is 8 s: a prune now deletes everything older, but not the held footage.
  await sleep(4000);
  const held = recordings(daemon.socket, 'east', iso(from), iso(to)).segments.map((s) => s.file);
  t.equal(cli(['prune'], { socket: daemon.socket }).status, 0);
  const after = recordings(daemon.socket, 'east', iso(from - 60_000)).segments;
  t.ok(after.every((s) => Date.parse(s.end) > from || Date.parse(s.end) > Date.now() - 8000), 'everything old outside the hold went');
  t.ok(held.every((f) => existsSync(join(dir, 'store', f))), `the ${held.length} held segments are still there`);
  t.ok(incident.clips.every((c) => existsSync(clipPath(c.path))), 'and the clips');

  const audit = JSON.parse(cli(['audit', 'list', '--action', 'incident.isolate', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];
  t.match(audit.at(-1), { purpose: 'crime-investigation', subject: incident.id, actor: { uid: process.getuid?.(), requestedBy: 'J. Rivera, Director' } }, 'audited with purpose, requester and account');
  await waitUntil('the Director is told', () => relay.received.some((m) => m.subject.includes(incident.id)));
  const mail = relay.received.find((m) => m.subject.includes(incident.id));
  t.match(mail?.text, 'east, west');
  t.match(mail?.text, 'crime-investigation');
  t.match(mail?.text, 'P-1042', 'with the patron ids');
  t.match(mail?.text, 'J. Rivera, Director');
});

t.test('a range across a privacy pause: the gap is named, and the clip jumps over it', async (t) => {
  const from = Date.now();
  await sleep(3000);
  t.equal(cli(['pause', '--camera', 'east', '--reason', 'privacy', '--for', '4s'], { socket: daemon.socket }).status, 0);
  await sleep(4000);
  await waitUntil('east records again', () => recordings(daemon.socket, 'east', iso(from)).segments.some((s) => Date.parse(s.start) > from + 7000), 30_000);
  await sleep(3000);
  const incident = isolate(['--camera', 'east', '--from', iso(from), '--to', iso(Date.now() - 500), ...ask]);
  const gap = incident.gaps.find((g) => g.cause === 'paused-privacy');
  t.ok(gap, 'the paused-privacy gap is listed');
  const clip = incident.clips[0];
  if (!clip || !gap?.end) throw new Error('no clip or gap');
  const file = clipPath(clip.path);
  t.equal(ffmpegErrors(file), '', 'the clip decodes cleanly');
  const times = packetTimes(file);
  const steps = times.slice(1).map((t2, i) => t2 - (times[i] ?? t2));
  const jump = Math.max(...steps);
  const gapSeconds = (Date.parse(gap.end) - Date.parse(gap.start)) / 1000;
  t.ok(jump >= gapSeconds - 0.3, `the timestamps jump over the gap (${jump.toFixed(2)} s for a ${gapSeconds.toFixed(2)} s gap): no frozen picture spread over it`);
  t.equal(steps.filter((s) => s > 0.15).length, 1, 'and run on without a hole everywhere else');
});

t.test('live footage: collected until its end, then cut; across a restart too', async (t) => {
  const incident = isolate(['--camera', 'west', '--from', 'now', '--for', '8s', ...ask]);
  t.equal(incident.state, 'collecting', 'collecting');
  t.match(cli(['incidents', 'show', incident.id], { socket: daemon.socket }).stdout, /collecting live footage until/);
  await waitUntil('the clip is cut', () => show(incident.id).state === 'open', 30_000);
  const clip = show(incident.id).clips[0];
  t.ok(clip, 'a clip');
  const seconds = Number(ffprobe(clipPath(clip?.path ?? '')).format.duration);
  t.ok(seconds >= 7.8 && seconds <= 9.2, `covering the 8 s (${seconds} s)`);

  const second = isolate(['--camera', 'east', '--from', 'now', '--for', '10s', ...ask]);
  await sleep(3000);
  daemon.proc.kill('SIGTERM');
  t.equal((await daemon.exited).code, 0);
  daemon = spawnDaemon(root, dir, configFile);
  await waitForSocket(daemon.socket);
  t.equal(show(second.id).state, 'collecting', 'still collecting after the restart');
  await waitUntil('cut after the restart', () => show(second.id).state === 'open', 40_000);
  const after = show(second.id);
  t.equal(ffmpegErrors(clipPath(after.clips[0]?.path ?? '')), '', 'the clip decodes cleanly');
  t.ok(after.gaps.some((g) => g.cause === 'daemon-down'), 'and the restart is a daemon-down gap in it');
});

t.test('refusals: exit 2 and the flag named', async (t) => {
  const range = ['--from', '-6s', '--to', '-2s'];
  const cases: [string[], RegExp | string][] = [
    [['--camera', 'east', ...range, '--requested-by', 'Pat'], '--purpose'],
    [['--camera', 'east', ...range, '--purpose', 'curiosity', '--requested-by', 'Pat'], /--purpose.*curiosity.*security-risk/],
    [['--camera', 'east', ...range, '--purpose', 'security-risk', '--requested-by', '  '], '--requested-by'],
    [['--camera', 'attic', ...range, ...ask], '--camera: no camera named "attic"'],
    [['--camera', 'east', '--from', '-2s', '--to', '-6s', ...ask], '--to:'],
    [['--camera', 'east', '--from', '-3d', '--to', '-2d', ...ask], /no footage from .*nothing is recorded before it.*oldest footage of east starts at/],
    [['--camera', 'east', ...range, ...ask, '--patron', 'P 1042'], '--patron'],
    [['--camera', 'east', ...range, ...ask, '--patron', 'P-1\u0007'], '--patron'],
    [['--camera', 'east', '--from', '+1h', '--for', '5m', ...ask], '--from'],
  ];
  for (const [args, message] of cases) {
    const r = cli(['isolate', ...args], { socket: daemon.socket });
    t.equal(r.status, 2, `isolate ${args.join(' ')}: exit 2`);
    t.match(r.stderr, message);
  }
});

t.test('found from outside: concurrent isolates, incident holds, unbounded ranges, missing footage, disabled cameras', async (t) => {
  // Three isolates at once used to get the same number twice, one record lost.
  const runs = await Promise.all(
    [1, 2, 3].map((n) => cliAsync(['isolate', '--json', '--camera', 'east', '--from', '-6s', '--to', '-2s', '--purpose', 'security-risk', '--requested-by', `Par ${n}`], { socket: daemon.socket })),
  );
  const ids = runs.map((r) => (JSON.parse(r.stdout) as { incident: IncidentInfo }).incident.id);
  t.equal(new Set(ids).size, 3, `three incidents, three numbers (${ids.join(', ')})`);
  t.same(ids.map((id) => show(id).requestedBy).sort(), ['Par 1', 'Par 2', 'Par 3'], 'each its own record');

  // An incident's hold ends only with the incident.
  const holds = JSON.parse(cli(['holds', 'list', '--json'], { socket: daemon.socket }).stdout) as HoldInfo[];
  const mine = holds.find((h) => h.reason === `incident ${ids[0] ?? ''}`);
  const r = cli(['holds', 'release', mine?.id ?? ''], { socket: daemon.socket });
  t.equal(r.status, 1, 'holds release of an incident hold: refused');
  t.match(r.stderr, `belongs to incident ${ids[0] ?? ''}: it ends when the incident is released`);

  // Held footage is never deleted: a hold to 2126 would one day stop every camera.
  const long = cli(['isolate', '--camera', 'east', '--from', '-1m', '--for', '36500d', ...ask], { socket: daemon.socket });
  t.equal(long.status, 2, 'a hundred-year incident: exit 2');
  t.match(long.stderr, '--to:');
  const far = cli(['holds', 'place', '--camera', 'east', '--from', '-1h', '--to', '2126-01-01T00:00:00Z', '--reason', 'forever'], { socket: daemon.socket });
  t.equal(far.status, 2, 'a hold to 2126: exit 2');

  // A range that begins before the oldest footage says so.
  const oldest = recordings(daemon.socket, 'east', iso(Date.now() - 3_600_000)).segments[0];
  const early = isolate(['--camera', 'east', '--from', iso(Date.parse(oldest?.start ?? '') - 60_000), '--to', iso(Date.parse(oldest?.start ?? '') + 3000), ...ask]);
  t.match(early.gaps, [{ camera: 'east', cause: /pruned|not-recorded/ }], 'the minute before the oldest footage is listed as a gap');

  // A live incident on a camera that is not recorded cannot collect anything.
  const disabled = cli(['isolate', '--camera', 'annex', '--from', 'now', '--for', '1m', ...ask], { socket: daemon.socket });
  t.equal(disabled.status, 2);
  t.match(disabled.stderr, 'annex is disabled in the configuration');
});

t.test('release: holds and clips go, the record and the audit trail stay, the Director is told', async (t) => {
  const incident = isolate(['--camera', 'west', '--from', '-6s', '--to', '-2s', ...ask]);
  const clip = clipPath(incident.clips[0]?.path ?? '');
  t.ok(existsSync(clip));
  const r = cli(['incidents', 'release', incident.id, '--requested-by', 'J. Rivera, Director', '--note', 'case closed', '--json'], { socket: daemon.socket });
  t.equal(r.status, 0, r.stderr);
  t.notOk(existsSync(clip), 'the clip is deleted');
  const holds = JSON.parse(cli(['holds', 'list', '--json'], { socket: daemon.socket }).stdout) as HoldInfo[];
  t.notOk(holds.some((h) => h.reason === `incident ${incident.id}`), 'its holds are released');
  t.match(show(incident.id), { state: 'released', released: { note: 'case closed', requestedBy: 'J. Rivera, Director' } }, 'the record stays');
  const listed = JSON.parse(cli(['incidents', 'list', '--json'], { socket: daemon.socket }).stdout) as IncidentInfo[];
  t.notOk(listed.some((i) => i.id === incident.id), 'gone from the open list');
  const all = JSON.parse(cli(['incidents', 'list', '--all', '--json'], { socket: daemon.socket }).stdout) as IncidentInfo[];
  t.ok(all.some((i) => i.id === incident.id), 'still in --all');
  const actions = (JSON.parse(cli(['audit', 'list', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[]).filter((e) => e.subject === incident.id).map((e) => e.action);
  t.same(actions.filter((a) => a !== 'incident.show'), ['incident.isolate', 'incident.release'], 'opening and release are on record');
  t.equal(cli(['incidents', 'release', incident.id, '--requested-by', 'Pat', '--note', 'again'], { socket: daemon.socket }).status, 1, 'a second release is refused');
  await waitUntil('the Director hears of the release', () => relay.received.some((m) => m.subject === `libcam: incident ${incident.id} released`));
  t.pass('the Director hears of it');
});
