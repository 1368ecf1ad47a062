import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { AuditEntryInfo } from '../src/protocol.js';
import { PURPOSES } from '../src/purposes.js';
import { cli, rawExchange, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig } from './helpers/daemon.js';
import { recordings } from './helpers/footage.js';

// Two test-pattern cameras of different sizes: a still's size says which camera it shows.
const cameras = [
  { name: 'lobby', source: { kind: 'test-pattern', width: 320, height: 240, fps: 10, pattern: 'ball' } },
  { name: 'stacks', source: { kind: 'test-pattern', width: 480, height: 270, fps: 10, pattern: 'smpte' } },
];

interface StillJson {
  path: string;
  camera: string;
  at: string;
  sha256: string;
  live: boolean;
  width: number;
  height: number;
  auditSeq: number;
  notification: string | null;
}

/** What ffprobe makes of an image: its codec and size, or its complaint. */
function probe(file: string): { codec: string; width: number; height: number } | string {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0) return r.stderr;
  const stream = (JSON.parse(r.stdout) as { streams: { codec_name: string; width: number; height: number }[] }).streams[0];
  return stream ? { codec: stream.codec_name, width: stream.width, height: stream.height } : 'no stream';
}

/** Decodes the whole JPEG: ffmpeg exits non-zero or complains on a truncated or corrupt one. */
function decodeErrors(file: string): string {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  return r.status === 0 ? r.stderr.trim() : `exit ${String(r.status)}: ${r.stderr}`;
}

t.test('stills from recorded footage, from the live picture, and the times there is none', async (t) => {
  const dir = shortDir(t);
  const daemon = spawnDaemon(t, dir, writeConfig(dir, { cameras }));
  const { socket } = daemon;
  await waitForSocket(socket);
  await waitUntil('both cameras have recorded three segments', () =>
    cameras.every((c) => recordings(socket, c.name).segments.length >= 3),
  );
  const still = (args: string[]): ReturnType<typeof cli> => cli(['still', '--json', ...args], { socket });

  t.test('a recorded still is a JPEG of that camera at that time, audited', async (t) => {
    const segment = recordings(socket, 'lobby').segments[1];
    const at = Date.parse(segment?.start ?? '') + 1234;
    const out = join(dir, 'lobby.jpg');
    const r = still(['--camera', 'lobby', '--at', new Date(at).toISOString(), '--purpose', 'crime-investigation', '--requested-by', 'Pat Director', '--out', out]);
    t.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as StillJson;
    t.same(probe(out), { codec: 'mjpeg', width: 320, height: 240 }, 'a JPEG the size of the lobby camera');
    t.equal(decodeErrors(out), '', 'that decodes without errors');
    t.ok(Math.abs(Date.parse(result.at) - at) <= 100, `of the frame nearest the requested time (${Date.parse(result.at) - at} ms off)`);
    t.equal(result.sha256, createHash('sha256').update(readFileSync(out)).digest('hex'), 'the reported hash is the file\'s');
    t.equal(result.live, false);

    const audit = JSON.parse(cli(['audit', 'list', '--action', 'footage.still', '--json'], { socket }).stdout) as AuditEntryInfo[];
    t.match(audit, [
      {
        seq: result.auditSeq,
        action: 'footage.still',
        purpose: 'crime-investigation',
        subject: `lobby ${result.at}`,
        actor: { user: /\S/, requestedBy: 'Pat Director' },
        details: { camera: 'lobby', sha256: result.sha256 },
      },
    ], 'the audit trail has who, for whom, why, which camera and when');
    t.ok(result.notification, 'a Director notification was queued');

    const other = join(dir, 'stacks.jpg');
    const s = still(['--camera', 'stacks', '--at', '-3s', '--purpose', 'internal-security', '--requested-by', 'Pat', '--out', other]);
    t.equal(s.status, 0, s.stderr);
    t.same(probe(other), { codec: 'mjpeg', width: 480, height: 270 }, 'the other camera\'s still is its own size');

    const again = still(['--camera', 'stacks', '--at', '-3s', '--purpose', 'internal-security', '--requested-by', 'Pat', '--out', other]);
    t.equal(again.status, 2, 'an existing --out is never overwritten');
    t.match(again.stderr, `--out: ${other} already exists`);
  });

  t.test('a live still (--at now) shows what the camera sends now', async (t) => {
    const out = join(dir, 'now.jpg');
    const before = Date.now();
    const r = still(['--camera', 'stacks', '--at', 'now', '--purpose', 'security-risk', '--requested-by', 'Desk staff', '--out', out]);
    t.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout) as StillJson;
    t.same(probe(out), { codec: 'mjpeg', width: 480, height: 270 });
    t.equal(result.live, true);
    t.ok(before - Date.parse(result.at) < 3000, `a frame from the last seconds (${before - Date.parse(result.at)} ms before the request)`);
    t.equal(result.notification, null, 'live is not archival footage: no Director notification');
    const audit = JSON.parse(cli(['audit', 'list', '--action', 'live.still', '--json'], { socket }).stdout) as AuditEntryInfo[];
    t.match(audit, [{ seq: result.auditSeq, purpose: 'security-risk', actor: { requestedBy: 'Desk staff' } }], 'but it is audited');
  });

  t.test('no footage there: a gap, the future, before the oldest segment', async (t) => {
    const paused = cli(['pause', '--camera', 'lobby', '--reason', 'privacy', '--for', '4s'], { socket });
    t.equal(paused.status, 0, paused.stderr);
    let gap: { start: string; end: string | null; cause: string } | undefined;
    await waitUntil('the privacy pause has ended and lobby records again', () => {
      const lobby = recordings(socket, 'lobby');
      gap = lobby.gaps.find((g) => g.cause === 'paused-privacy' && g.end !== null);
      return gap !== undefined && lobby.segments.some((s) => Date.parse(s.start) >= Date.parse(gap?.end ?? ''));
    });
    const inGap = new Date((Date.parse(gap?.start ?? '') + Date.parse(gap?.end ?? '')) / 2).toISOString();
    const args = (at: string): string[] => ['--camera', 'lobby', '--at', at, '--purpose', 'security-risk', '--requested-by', 'Pat', '--out', join(dir, 'none.jpg')];

    const r = cli(['still', ...args(inGap)], { socket });
    t.equal(r.status, 2, 'a time inside a gap is refused');
    t.match(r.stderr, /no footage of lobby at .*paused-privacy gap/, 'saying it is a privacy pause');
    t.match(r.stderr, /footage before it ends at \d{4}-.*footage after it starts at \d{4}-/, 'and naming the nearest footage either side');

    const future = cli(['still', ...args('2099-01-01T00:00:00Z')], { socket });
    t.equal(future.status, 2);
    t.match(future.stderr, /--at: 2099-01-01T00:00:00.000Z is in the future .* the newest footage of lobby ends at \d{4}-/);

    const oldest = recordings(socket, 'lobby').segments[0]?.start ?? '';
    const early = cli(['still', ...args(new Date(Date.parse(oldest) - 60_000).toISOString())], { socket });
    t.equal(early.status, 2);
    t.match(early.stderr, `the oldest footage of lobby starts at ${oldest}`);
    t.notOk(spawnSync('test', ['-e', join(dir, 'none.jpg')]).status === 0, 'and no file was written');
  });

  t.test('the purpose is one of the closed list; the requester is named', async (t) => {
    const base = ['--camera', 'lobby', '--at', '-5s', '--out', join(dir, 'refused.jpg')];
    const lunch = cli(['still', ...base, '--purpose', 'curiosity', '--requested-by', 'Pat'], { socket });
    t.equal(lunch.status, 2);
    t.match(lunch.stderr, '--purpose');
    for (const purpose of PURPOSES) t.match(lunch.stderr, purpose, `the refusal lists ${purpose}`);
    const nobody = cli(['still', ...base, '--purpose', 'security-risk'], { socket });
    t.equal(nobody.status, 2);
    t.match(nobody.stderr, '--requested-by');
    const blank = cli(['still', ...base, '--purpose', 'security-risk', '--requested-by', '  '], { socket });
    t.equal(blank.status, 2);
    t.match(blank.stderr, '--requested-by');
    const attic = cli(['still', ...base.map((a) => (a === 'lobby' ? 'attic' : a)), '--purpose', 'security-risk', '--requested-by', 'Pat'], { socket });
    t.equal(attic.status, 2);
    t.match(attic.stderr, '--camera: no camera named "attic"');
  });

  // The daemon checks too: a script talking to the socket cannot slip another purpose in.
  t.test('a purpose outside the list is refused by the daemon itself', async (t) => {
    const reply = await rawExchange(
      socket,
      `${JSON.stringify({ id: 1, method: 'still', params: { camera: 'lobby', at: new Date().toISOString(), purpose: 'curiosity', requestedBy: 'x' } })}\n`,
      5000,
      1,
    );
    t.match(reply, /"ok":false/);
    t.match(reply, /--purpose must be equal to one of the allowed values: security-risk, crime-investigation/);
  });
});

t.test('a still from the last seconds, still in the file being recorded', async (t) => {
  const dir = shortDir(t);
  // 10 s segments: the file being written holds up to ten seconds the index does not have yet.
  const daemon = spawnDaemon(t, dir, writeConfig(dir, { cameras: [cameras[0]], store: { path: join(dir, 'store'), segmentSeconds: 10 } }));
  const { socket } = daemon;
  await waitForSocket(socket);
  let indexedEnd = 0;
  await waitUntil('a segment is indexed and the next has run for 3 s', () => {
    const last = recordings(socket, 'lobby').segments.at(-1);
    indexedEnd = Date.parse(last?.end ?? '');
    return Number.isFinite(indexedEnd) && Date.now() - indexedEnd >= 3000;
  }, 40_000);
  const at = new Date(indexedEnd + 1000).toISOString();
  const out = join(dir, 'recent.jpg');
  const r = cli(['still', '--json', '--camera', 'lobby', '--at', at, '--purpose', 'security-risk', '--requested-by', 'Pat', '--out', out], { socket });
  t.equal(r.status, 0, `a time after the newest indexed segment is found in the open file: ${r.stderr}`);
  const result = JSON.parse(r.stdout) as StillJson;
  t.ok(Math.abs(Date.parse(result.at) - Date.parse(at)) <= 100, 'at the requested time');
  t.same(probe(out), { codec: 'mjpeg', width: 320, height: 240 });
  t.ok(result.notification, 'recorded footage all the same: the Director is notified');
});
