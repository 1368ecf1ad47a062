import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { StatusResult } from '../src/protocol.js';
import { cli, jsonLines, shortDir, spawnDaemon, waitForSocket, writeConfig } from './helpers/daemon.js';
import { chainLinks, ffmpegErrors, ffprobe, holes, recordedSeconds, recordings, sha256File } from './helpers/footage.js';
import { startRtspCamera } from './helpers/rtspCamera.js';

// One daemon, six real RTSP cameras (gst-rtsp-server), each sending audio that must
// never be recorded: H.264 + Opus, H.265 + AAC, H.264 + G.711 behind digest auth with a
// password full of URL syntax, H.265 + Opus behind basic auth with the same password,
// the digest camera with a wrong password, and a URL that carries GStreamer pipeline syntax.
const dir = shortDir(t);
const password = 'p:a@s%s w/rd';
const h264 = await startRtspCamera(t, { codec: 'h264', audio: 'opus' });
const h265 = await startRtspCamera(t, { codec: 'h265', audio: 'aac' });
const locked = await startRtspCamera(t, { codec: 'h264', audio: 'pcmu', user: 'viewer', password, auth: 'digest' });
const basic = await startRtspCamera(t, { codec: 'h265', audio: 'opus', user: 'viewer', password, auth: 'basic' });
const good = join(dir, 'good.cred');
const bad = join(dir, 'bad.cred');
writeFileSync(good, `viewer:${password}\n`, { mode: 0o600 });
writeFileSync(bad, 'viewer:not-the-password\n', { mode: 0o600 });
const injectedFile = join(dir, 'injected.bin');
const configFile = writeConfig(dir, {
  cameras: [
    { name: 'h264', source: { kind: 'rtsp', url: h264.url } },
    { name: 'h265', source: { kind: 'rtsp', url: h265.url } },
    { name: 'digest', source: { kind: 'rtsp', url: locked.url, credentialsFile: good } },
    { name: 'basic', source: { kind: 'rtsp', url: basic.url, credentialsFile: good } },
    { name: 'wrong-password', source: { kind: 'rtsp', url: locked.url, credentialsFile: bad } },
    { name: 'injected', source: { kind: 'rtsp', url: `${h264.url} ! filesink location=${injectedFile}` } },
  ],
});
const daemon = spawnDaemon(t, dir, configFile);
await waitForSocket(daemon.socket);

const RECORDED = ['h264', 'h265', 'digest', 'basic'];
const deadline = Date.now() + 90_000;
while (Date.now() < deadline) {
  if (RECORDED.every((c) => recordedSeconds(recordings(daemon.socket, c)) >= 22)) break;
  await sleep(1000);
}
const status = JSON.parse(cli(['status', '--json'], { socket: daemon.socket }).stdout) as StatusResult;
const stateOf = (name: string) => status.cameras.find((c) => c.name === name);

for (const [camera, codec] of [['h264', 'h264'], ['h265', 'hevc'], ['digest', 'h264'], ['basic', 'hevc']] as const) {
  t.test(`${camera}: continuous, playable, video only, hash-chained`, async (t) => {
    const r = recordings(daemon.socket, camera);
    t.ok(recordedSeconds(r) >= 20, `at least 20 s recorded (${recordedSeconds(r).toFixed(1)} s in ${r.segments.length} segments)`);
    t.equal(stateOf(camera)?.state, 'recording', 'state is recording');
    t.ok(stateOf(camera)?.lastSegmentEnd, 'status shows the last segment end');
    const worst = Math.max(...holes(r).map(Math.abs));
    t.ok(worst <= 100, `no hole or overlap between consecutive segments over 100 ms (worst ${worst} ms)`);
    t.ok(chainLinks(r), "each segment's prev is the hash of the one before");
    for (const s of r.segments) {
      const file = join(dir, 'store', s.file);
      t.equal(sha256File(file), s.sha256, `${s.file}: SHA-256 matches its entry`);
      t.equal(ffmpegErrors(file), '', `${s.file}: ffmpeg decodes it without a word`);
      const probe = ffprobe(file);
      t.same(
        probe.streams.map((st) => st.codec_type),
        ['video'],
        `${s.file}: one video stream and no audio, though the camera sends audio`,
      );
      t.equal(probe.streams[0]?.codec_name, codec, `${s.file}: ${codec} copied as it came`);
    }
    t.match(r.segments[0]?.file, new RegExp(`^${camera}/\\d{4}/\\d{2}/\\d{2}/\\d+\\.mp4$`), 'files live at <camera>/YYYY/MM/DD/<startMs>.mp4');
  });
}

t.test('wrong password: state error with a reason that says so, retried slowly', async (t) => {
  const camera = stateOf('wrong-password');
  t.equal(camera?.state, 'error');
  t.match(camera?.reason, /refused the credentials/);
  t.notMatch(camera?.reason, /not-the-password/, 'the password is not in the reason');
  const attempts = jsonLines(daemon.stdout()).filter((l) => l['camera'] === 'wrong-password' && l['msg'] === 'camera lost').length;
  t.ok(attempts >= 1 && attempts <= 2, `no tight retry loop: ${attempts} attempts in ${Math.round(process.uptime())} s`);
  t.equal(recordings(daemon.socket, 'wrong-password').segments.length, 0, 'nothing recorded');
  t.notMatch(daemon.stdout(), 'not-the-password', 'the password never reaches the log');
  t.notMatch(daemon.stdout(), password, 'nor the good one');
});

t.test('a URL carrying pipeline syntax records nothing and writes no such file', async (t) => {
  t.notOk(existsSync(injectedFile), `${injectedFile} was never created`);
  t.equal(recordings(daemon.socket, 'injected').segments.length, 0, 'nothing recorded for it');
  t.not(stateOf('injected')?.state, 'recording');
  t.equal(stateOf('h264')?.state, 'recording', 'the camera it points at records under its own name');
});

t.test('recordings: bad input is refused with the flag named', async (t) => {
  const unknown = cli(['recordings', '--camera', 'attic'], { socket: daemon.socket });
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, '--camera: no camera named "attic"; configured: h264, h265');
  const future = cli(['recordings', '--camera', 'h264', '--from', '2999-01-01T00:00:00Z', '--to', '2999-01-02T00:00:00Z'], {
    socket: daemon.socket,
  });
  t.equal(future.status, 2);
  t.match(future.stderr, '--from: 2999-01-01T00:00:00.000Z is in the future');
  const garbage = cli(['recordings', '--camera', 'h264', '--from', 'yesterday'], { socket: daemon.socket });
  t.equal(garbage.status, 2);
  t.match(garbage.stderr, '--from: "yesterday" is not a time');
  const table = cli(['recordings', '--camera', 'h264', '--from', '-10m'], { socket: daemon.socket });
  t.equal(table.status, 0);
  t.match(table.stdout, /^h264 from .* segments/);
  t.match(table.stdout, /START\s+END\s+LENGTH\s+WHAT/);
});

t.test('SIGTERM closes every open segment and indexes it', async (t) => {
  const before = recordings(daemon.socket, 'h264').segments.length;
  daemon.proc.kill('SIGTERM');
  t.equal((await daemon.exited).code, 0);
  const again = spawnDaemon(t, dir, configFile);
  await waitForSocket(again.socket);
  const after = recordings(again.socket, 'h264');
  t.ok(after.segments.length > before, 'the segment open at shutdown was indexed');
  const last = after.segments.at(-1);
  t.equal(ffmpegErrors(join(dir, 'store', last?.file ?? '')), '', 'and plays');
  t.ok(
    after.gaps.some((g) => g.cause === 'daemon-down' && Date.parse(g.start) === Date.parse(last?.end ?? '')),
    'the time the daemon was down is a daemon-down gap from the last segment on',
  );
  again.proc.kill('SIGTERM');
  const stopped = await Promise.race([again.exited, sleep(30_000).then(() => undefined)]);
  t.ok(stopped, 'a second SIGTERM-ed daemon stops too', { log: again.stdout().split('\n').slice(-15).join('\n') });
});
