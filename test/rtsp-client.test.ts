import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { depayloaderFor, type AccessUnit } from '../src/pipeline/rtpDepay.js';
import { RtspSession } from '../src/pipeline/rtspClient.js';
import { FrameTiming } from '../src/pipeline/rtspFeed.js';
import { parseSdp } from '../src/pipeline/sdp.js';
import { shortDir, waitUntil } from './helpers/daemon.js';
import { startRtspCamera } from './helpers/rtspCamera.js';

// libcam's own RTSP client (src/pipeline/rtspClient.ts) and what it builds on: the
// depayloader fed real RTP made by GStreamer's payloaders, the SDP parser, frame timing,
// and sessions with the real camera simulator (gst-rtsp-server). No stand-ins except the
// two TCP servers below that play a broken camera (silent, or sending garbage).

/**
 * RTP packets from GStreamer's payloader (rtpstreampay frames each with a 2-byte length,
 * RFC 4571). config-interval=0: with -1 the payloader repeats SPS and PPS before every IDR
 * slice, which ffprobe counts as extra frames (the parser on the recording path does not).
 */
function rtpPackets(dir: string, codec: 'h264' | 'h265', payloader: string): Buffer[] {
  const file = join(dir, `${codec}.rtp`);
  const encoder = codec === 'h264' ? 'x264enc key-int-max=10 tune=zerolatency speed-preset=ultrafast' : 'x265enc key-int-max=10 tune=zerolatency speed-preset=ultrafast';
  const r = spawnSync(
    'sh',
    ['-c', `gst-launch-1.0 -q videotestsrc num-buffers=30 pattern=snow ! video/x-raw,format=I420,width=320,height=240,framerate=15/1 ! ${encoder} ! ${payloader} ! rtpstreampay ! filesink location=${file}`],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  const data = readFileSync(file);
  const packets: Buffer[] = [];
  for (let at = 0; at + 2 <= data.length; ) {
    const length = data.readUInt16BE(at);
    packets.push(data.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return packets;
}

/** The frames ffprobe counts in an Annex B elementary stream. */
function framesIn(dir: string, codec: 'h264' | 'h265', stream: Buffer): { frames: number; keyframes: number; errors: string } {
  const file = join(dir, `out.${codec}`);
  writeFileSync(file, stream);
  const r = spawnSync('ffprobe', ['-v', 'error', '-f', codec === 'h264' ? 'h264' : 'hevc', '-show_entries', 'frame=key_frame', '-of', 'json', file], { encoding: 'utf8' });
  const parsed: unknown = JSON.parse(r.stdout || '{}');
  const frames = typeof parsed === 'object' && parsed !== null && 'frames' in parsed && Array.isArray(parsed.frames) ? parsed.frames : [];
  const keyframes = frames.filter((f: unknown) => typeof f === 'object' && f !== null && 'key_frame' in f && f.key_frame === 1).length;
  return { frames: frames.length, keyframes, errors: r.stderr };
}

for (const [codec, payloader, what] of [
  ['h264', 'rtph264pay mtu=600 config-interval=0', 'H.264, FU-A (frames cut to 600-byte packets)'],
  ['h264', 'rtph264pay mtu=1400 aggregate-mode=zero-latency config-interval=0', 'H.264, STAP-A (parameter sets aggregated)'],
  ['h265', 'rtph265pay mtu=600 config-interval=0', 'H.265, fragmentation units'],
  ['h265', 'rtph265pay mtu=1400 aggregate-mode=zero-latency config-interval=0', 'H.265, aggregation packets'],
] as const) {
  t.test(`depayloader: ${what}: every frame comes out whole and decodes`, async (t) => {
    const dir = shortDir(t);
    const packets = rtpPackets(dir, codec, payloader);
    t.ok(packets.length > 30, `${packets.length} RTP packets for 30 frames`);
    const depay = depayloaderFor(codec, []);
    const units: { data: Buffer; keyframe: boolean; rtpTime: number }[] = [];
    const copy = (u: AccessUnit): void => void units.push({ ...u, data: Buffer.from(u.data) }); // the unit's buffer is reused
    for (const p of packets) depay.push(p, copy);
    t.equal(units.length, 30, 'one access unit per frame');
    t.equal(units[0]?.keyframe, true, 'the first is a keyframe');
    t.equal(units.filter((u) => u.keyframe).length, 3, 'a keyframe every 10 frames');
    t.ok(units.every((u, i) => i === 0 || Math.abs(u.rtpTime - (units[i - 1]?.rtpTime ?? 0) - 6000) <= 1), 'RTP times 1/15 s apart at 90 kHz');
    const decoded = framesIn(dir, codec, Buffer.concat(units.map((u) => u.data)));
    t.equal(decoded.frames, 30, 'ffprobe decodes all 30 frames');
    t.equal(decoded.keyframes, 3);
    t.equal(decoded.errors, '', 'with no error');
  });
}

t.test('depayloader: a lost packet drops the NAL unit it was part of, never the stream', async (t) => {
  const dir = shortDir(t);
  const packets = rtpPackets(dir, 'h264', 'rtph264pay mtu=600 config-interval=0');
  const depay = depayloaderFor('h264', []);
  const units: Buffer[] = [];
  packets.forEach((p, i) => {
    if (i !== 40) depay.push(p, (u) => units.push(Buffer.from(u.data)));
  });
  t.equal(units.length, 30, 'every frame still ends (its marker bit)');
  const decoded = framesIn(dir, 'h264', Buffer.concat(units));
  t.ok(decoded.frames >= 29, `ffprobe still decodes ${decoded.frames} frames`);
});

t.test('depayloader: a keyframe without in-band parameter sets gets the SDP ones in front', async (t) => {
  const dir = shortDir(t);
  // x264 sends SPS and PPS with every keyframe: they are taken out here, as a camera that
  // gives them only in its SDP would send the stream.
  const packets = rtpPackets(dir, 'h264', 'rtph264pay mtu=1400 config-interval=0').filter((p) => ![7, 8].includes((p[12] ?? 0) & 0x1f));
  const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1e]);
  const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
  const depay = depayloaderFor('h264', [sps, pps]);
  const units: Buffer[] = [];
  for (const p of packets) depay.push(p, (u) => units.push(Buffer.from(u.data)));
  const sets = Buffer.concat([Buffer.from([0, 0, 0, 1]), sps, Buffer.from([0, 0, 0, 1]), pps]);
  t.same(units[0]?.subarray(0, sets.length), sets, 'the first keyframe starts with the SDP SPS and PPS');
  t.same(units[10]?.subarray(0, sets.length), sets, 'and every later one');
  t.notSame(units[1]?.subarray(0, sets.length), sets, 'other frames do not');
});

t.test('SDP: the first H.264 or H.265 video stream, its control and parameter sets; audio and others skipped', async (t) => {
  const sdp = [
    'v=0',
    'o=- 1 1 IN IP4 10.0.0.9',
    's=camera',
    'a=control:*',
    'm=audio 0 RTP/AVP 97',
    'a=rtpmap:97 MPEG4-GENERIC/48000/2',
    'a=control:track2',
    'm=video 0 RTP/AVP 35 96',
    'a=rtpmap:35 JPEG/90000',
    'a=rtpmap:96 H264/90000',
    'a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtoCgL/lwFqAgICgAAADACAAAAeR4sXJ,aM48gA==',
    'a=control:track1',
  ].join('\r\n');
  const video = parseSdp(sdp);
  t.equal(video?.codec, 'h264');
  t.equal(video?.payloadType, 96);
  t.equal(video?.control, 'track1');
  t.equal(video?.sessionControl, '*');
  t.equal(video?.parameterSets.length, 2);
  t.equal(video?.parameterSets[0]?.[0], 0x67, 'the SPS');
  const h265 = parseSdp('m=video 0 RTP/AVP 98\na=rtpmap:98 H265/90000\na=fmtp:98 sprop-vps=QAEMAf//;sprop-sps=QgEB;sprop-pps=RAHA\n');
  t.equal(h265?.codec, 'h265');
  t.equal(h265?.parameterSets.length, 3, 'VPS, SPS and PPS');
  t.equal(parseSdp('m=audio 0 RTP/AVP 0\na=rtpmap:0 PCMU/8000\nm=video 0 RTP/AVP 26\na=rtpmap:26 JPEG/90000\n'), undefined, 'MJPEG only: nothing libcam records');
});

t.test('frame timing: the camera’s spacing through jitter and bursts, arrival followed, steps re-timed', async (t) => {
  const rate = 90000;
  const frame = 6000; // 1/15 s
  // Steady, with up to 30 ms of arrival jitter: spacing stays the camera's to a millisecond.
  let timing = new FrameTiming(rate);
  let last: number | undefined;
  let worst = 0;
  for (let i = 0; i < 300; i++) {
    const pts = timing.ptsMs(1_000_000 + i * frame, 5000 + (i * 1000) / 15 + ((i * 7919) % 30));
    if (last !== undefined) worst = Math.max(worst, Math.abs(pts - last - 1000 / 15));
    last = pts;
  }
  t.ok(worst < 1, `spacing within ${worst.toFixed(3)} ms of 66.667 ms despite 30 ms of jitter`);

  // A burst: 10 frames held up and delivered at once keep their spacing.
  timing = new FrameTiming(rate);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) times.push(timing.ptsMs(i * frame, i * 66.667));
  for (let i = 10; i < 20; i++) times.push(timing.ptsMs(i * frame, 20 * 66.667));
  t.ok(times.every((p, i) => i === 0 || Math.abs(p - (times[i - 1] ?? 0) - 66.667) <= 0.6), 'the burst keeps 1/15 s spacing, to half a millisecond');

  // The camera's clock steps an hour ahead, then 10 s back: re-timed from arrival, never backwards.
  timing = new FrameTiming(rate);
  let pts = 0;
  let t0 = 0;
  for (let i = 0; i < 15; i++) pts = timing.ptsMs(i * frame, (t0 = i * 66.667));
  const ahead = timing.ptsMs(15 * frame + 3600 * rate, t0 + 66.667);
  t.ok(Math.abs(ahead - (t0 + 66.667)) < 2, 'an hour ahead: timed at arrival, not an hour in the future');
  const back = timing.ptsMs(16 * frame + 3600 * rate - 10 * rate, t0 + 133.333);
  t.ok(back > ahead, '10 s back: still after the frame before');
  t.equal(timing.steps, 2, 'both steps counted');
  t.ok(pts < ahead);

  // A camera clock 0.1 % slow: followed, not left to fall behind.
  timing = new FrameTiming(rate);
  let lag = 0;
  for (let i = 0; i < 3000; i++) {
    const arrival = i * 66.667;
    lag = arrival - timing.ptsMs(Math.round(i * frame * 0.999), arrival);
  }
  t.ok(Math.abs(lag) < 20, `after 200 s of a 0.1 % slow clock the times are ${lag.toFixed(1)} ms from arrival`);
});

t.test('a session with the camera simulator: digest credentials, codec from its description, a keyframe first, the end on a dropped connection', async (t) => {
  const camera = await startRtspCamera(t, { codec: 'h265', user: 'viewer', password: 's3cret', auth: 'digest', audio: 'opus' });
  const session = await RtspSession.open({ url: camera.url, user: 'viewer', password: 's3cret' });
  t.equal(session.codec, 'h265', 'the codec the camera describes');
  const units: AccessUnit[] = [];
  let ended: Error | undefined;
  await session.play({ unit: (u) => units.push({ ...u, data: Buffer.from(u.data) }), end: (e) => (ended = e) });
  await waitUntil('frames arrive', () => units.length >= 20, 20_000);
  t.ok(units.some((u) => u.keyframe), 'keyframes arrive');
  t.ok(session.packets > 20, `${session.packets} RTP packets, video only (the audio stream's are dropped unread)`);
  await camera.stop();
  await waitUntil('the session ends', () => ended !== undefined, 10_000);
  t.match(ended?.message, /closed the connection|ECONNRESET/, `the end says why: ${ended?.message}`);
  session.close();
});

t.test('refusals carry the words the recorder shows: 401, 404, nothing listening', async (t) => {
  const camera = await startRtspCamera(t, { user: 'viewer', password: 's3cret', auth: 'basic' });
  await t.rejects(RtspSession.open({ url: camera.url, user: 'viewer', password: 'wrong' }), /401/, 'wrong password: 401');
  await t.rejects(RtspSession.open({ url: camera.url }), /401/, 'no credentials: 401');
  const basic = await RtspSession.open({ url: camera.url, user: 'viewer', password: 's3cret' });
  t.equal(basic.codec, 'h264', 'basic credentials work too');
  basic.close();
  await t.rejects(RtspSession.open({ url: camera.url.replace('/stream', '/nothing'), user: 'viewer', password: 's3cret' }), /404/, 'an unknown path: 404');
  await camera.stop();
  await t.rejects(RtspSession.open({ url: camera.url }), /ECONNREFUSED/, 'nothing listening: the socket says so');
  await t.rejects(RtspSession.open({ url: 'rtsps://127.0.0.1:1/x' }), /rtsp:\/\/ only/, 'rtsps:// is rtspsrc’s');
});

t.test('a camera that accepts and says nothing, or answers garbage, ends the attempt with a reason', async (t) => {
  const sockets: Socket[] = [];
  // (Each server ignores its socket's errors: the client hangs up on it mid-write.)
  const silent = createServer((s) => void sockets.push(s.on('error', () => undefined)));
  const garbage = createServer((s) => s.on('error', () => undefined).on('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n<html>' + 'x'.repeat(200_000))));
  await Promise.all([new Promise<void>((r) => silent.listen(0, '127.0.0.1', r)), new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r))]);
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
    garbage.close();
  });
  const port = (server: typeof silent): number => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  };
  await t.rejects(RtspSession.open({ url: `rtsp://127.0.0.1:${port(garbage)}/x` }), /neither RTP nor an RTSP answer|larger than 64 KiB/, 'garbage: refused');
  const started = Date.now();
  await t.rejects(RtspSession.open({ url: `rtsp://127.0.0.1:${port(silent)}/x` }), /Timeout while waiting for server response/, 'silence: the request times out');
  t.ok(Date.now() - started < 15_000, 'within the request timeout');
});
