import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import { depayloaderFor, type AccessUnit } from '../src/pipeline/rtpDepay.js';
import { classifyError } from '../src/pipeline/recorder.js';
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

/**
 * A scripted camera over plain TCP, for misbehaviour gst-rtsp-server cannot be made to
 * show: answers with odd line ends and stray bytes, refusing keep-alives, requests of its
 * own mid-stream. After PLAY it sends the given RTP packets interleaved on channel 0.
 */
async function scriptedCamera(
  t: Test,
  packets: Buffer[],
  quirks: { eol?: string; strayAfterBody?: string; keepalive?: string; cameraRequest?: boolean; timeout?: number } = {},
): Promise<{ url: string; requests: string[] }> {
  const eol = quirks.eol ?? '\r\n';
  const requests: string[] = [];
  const sdp = 'v=0\r\ns=x\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:video\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=control:audio\r\n';
  const port = await rtspServer(t, (socket, request, cseq) => {
    if (request.startsWith('RTSP/')) return; // the answer to the camera's own request
    const method = request.split(' ')[0] ?? '';
    requests.push(method);
    const answer = (status: string, headers: string[], body = ''): void => {
      const lines = [`RTSP/1.0 ${status}`, `CSeq: ${cseq}`, ...headers, ...(body ? [`Content-Length: ${body.length}`] : [])];
      socket.write(lines.join(eol) + eol + eol + body + (body ? (quirks.strayAfterBody ?? '') : ''));
    };
    if (method === 'OPTIONS') answer('200 OK', ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER']);
    else if (method === 'DESCRIBE') answer('200 OK', ['Content-Type: application/sdp', 'Content-Base: rtsp://127.0.0.1/x/'], sdp);
    else if (method === 'SETUP') answer('200 OK', [`Session: 1234;timeout=${quirks.timeout ?? 60}`, `Transport: RTP/AVP/TCP;unicast;interleaved=${/interleaved=(\d+-\d+)/.exec(request)?.[1] ?? '0-1'}`]);
    else if (method === 'PLAY') {
      answer('200 OK', ['Session: 1234']);
      let i = 0;
      const timer = setInterval(() => {
        // 15 packets every 66 ms, looping: a steady stream for as long as the test lasts.
        for (let k = 0; k < 15; k++) {
          const packet = packets[i++ % packets.length] ?? Buffer.alloc(0);
          const frame = Buffer.alloc(4);
          frame[0] = 0x24;
          frame.writeUInt16BE(packet.length, 2);
          socket.write(Buffer.concat([frame, packet]));
        }
        if (quirks.cameraRequest && i === 15) socket.write(`SET_PARAMETER rtsp://127.0.0.1/x RTSP/1.0\r\nCSeq: 77\r\n\r\n`);
      }, 66);
      socket.once('close', () => clearInterval(timer));
    } else if (method === 'GET_PARAMETER' || (method === 'OPTIONS' && requests.includes('PLAY'))) answer(quirks.keepalive ?? '200 OK', ['Session: 1234']);
    else answer('200 OK', []);
  });
  return { url: `rtsp://127.0.0.1:${port}/x`, requests };
}

/** A TCP server on 127.0.0.1 that hands each RTSP message (head only) to `answer`; its port. */
async function rtspServer(t: Test, answer: (socket: Socket, request: string, cseq: string) => void): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
        const request = text.slice(0, end);
        text = text.slice(end + 4);
        answer(socket, request, /CSeq: (\d+)/.exec(request)?.[1] ?? '0');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

t.test('a camera with odd manners still records: bare LF line ends, a stray line end after a body, its own requests, keep-alives refused', async (t) => {
  const dir = shortDir(t);
  const packets = rtpPackets(dir, 'h264', 'rtph264pay mtu=1400 config-interval=0');
  const camera = await scriptedCamera(t, packets, { eol: '\n', strayAfterBody: '\r\n', keepalive: '454 Session Not Found', cameraRequest: true, timeout: 10 });
  const session = await RtspSession.open({ url: camera.url });
  t.equal(session.codec, 'h264');
  t.same(camera.requests.slice(0, 4), ['OPTIONS', 'DESCRIBE', 'SETUP', 'SETUP'], 'OPTIONS first; the audio stream set up on a channel of its own');
  let units = 0;
  let ended: Error | undefined;
  await session.play({ unit: () => void (units += 1), end: (e) => (ended = e) });
  // The keep-alive goes every 5 s (half the 10 s timeout); two of them are refused.
  await waitUntil('two keep-alives', () => camera.requests.filter((m) => m === 'GET_PARAMETER' || m === 'OPTIONS').length >= 3, 20_000);
  t.equal(ended, undefined, 'refused keep-alives do not end the session: only a stall would');
  t.ok(units > 50, `${units} frames arrived through it all`);
  session.close();
});

t.test('a camera that dribbles a large answer a byte at a time costs each byte once', async (t) => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      const cseq = /CSeq: (\d+)/.exec(chunk.toString())?.[1] ?? '0';
      if (chunk.toString().startsWith('OPTIONS')) {
        socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n\r\n`);
        return;
      }
      // DESCRIBE: a 60 kB header and a 60 kB body, the last 20,000 bytes one at a time.
      const header = `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n${'X-Pad: '.padEnd(60_000, 'p')}\r\nContent-Length: 60000\r\n\r\n`;
      const answer = Buffer.from(header + 'b'.repeat(60_000));
      socket.write(answer.subarray(0, answer.length - 20_000));
      socket.setNoDelay(true);
      let i = answer.length - 20_000;
      const drip = (): void => {
        for (let k = 0; k < 200 && i < answer.length; k++) socket.write(answer.subarray(i, ++i));
        if (i < answer.length) setImmediate(drip);
      };
      drip();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // The answer is complete and well-formed, but has no SDP: the attempt fails for that,
  // after the whole answer was read. What matters is how long the event loop was held.
  let longest = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  await t.rejects(RtspSession.open({ url: `rtsp://127.0.0.1:${port}/x` }), /no H\.264 or H\.265 video stream/);
  clearInterval(ticker);
  t.ok(longest < 500, `the event loop was never held long (longest gap ${longest.toFixed(0)} ms)`);
});

t.test('depayloader: a keyframe whose packets were lost does not make the next frame a keyframe', async (t) => {
  const dir = shortDir(t);
  const packets = rtpPackets(dir, 'h264', 'rtph264pay mtu=600 config-interval=0');
  // Keep the first packet of the second keyframe (an FU-A start) and drop the rest of it.
  const times = packets.map((p) => p.readUInt32BE(4));
  const idr = packets.findIndex((p, i) => i > 0 && ((p[13] ?? 0) & 0x1f) === 5 && ((p[13] ?? 0) & 0x80) !== 0 && times[i] !== times[0]);
  const rest = packets.findIndex((_, i) => i > idr && times[i] !== times[idr]);
  const kept = [...packets.slice(0, idr + 1), ...packets.slice(rest)];
  const units: AccessUnit[] = [];
  const depay = depayloaderFor('h264', []);
  for (const p of kept) depay.push(p, (u) => units.push({ ...u, data: Buffer.from(u.data) }));
  t.equal(units.filter((u) => u.keyframe).length, 2, 'the first and third keyframes only');
  t.notOk(units[10]?.keyframe, 'the frame after the broken keyframe is not one');
});

t.test('SDP: interleaved packetization (H.264 mode 2, H.265 DONL) is not offered as recordable', async (t) => {
  t.equal(parseSdp('m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=2\n'), undefined);
  t.equal(parseSdp('m=video 0 RTP/AVP 96\na=rtpmap:96 H265/90000\na=fmtp:96 sprop-max-don-diff=2\n'), undefined);
  t.equal(parseSdp('m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=1\n')?.codec, 'h264');
});

t.test('frame timing: a stall then a burst is not a clock step; a step back after a late start never goes backwards', async (t) => {
  const rate = 90000;
  const frame = 6000;
  let timing = new FrameTiming(rate);
  const times: number[] = [];
  for (let i = 0; i < 30; i++) times.push(timing.ptsMs(i * frame, i * 66.667));
  // Two seconds of nothing (the event loop or the network stalled), then all 30 at once.
  for (let i = 30; i < 60; i++) times.push(timing.ptsMs(i * frame, 59 * 66.667 + 2000));
  for (let i = 60; i < 90; i++) times.push(timing.ptsMs(i * frame, 59 * 66.667 + 2000 + (i - 59) * 66.667));
  t.equal(timing.steps, 0, 'no step counted');
  t.ok(times.every((p, i) => i === 0 || Math.abs(p - (times[i - 1] ?? 0) - 66.667) <= 0.6), 'the spacing stays 1/15 s throughout');

  timing = new FrameTiming(rate);
  timing.ptsMs(0, 300); // the first frame 300 ms late
  let last = 0;
  for (let i = 1; i < 30; i++) last = timing.ptsMs(i * frame, i * 66.667);
  const back = timing.ptsMs(30 * frame - 10 * rate, 30 * 66.667);
  t.ok(back > last, `10 s back: ${back.toFixed(1)} after ${last.toFixed(1)}`);
  const next = timing.ptsMs(31 * frame - 10 * rate, 31 * 66.667);
  t.ok(next > back && next - back < 70, 'and the next frame follows it at the camera’s spacing');
  t.equal(timing.steps, 1);
});

/** What `libcam status` would show for an error with this message. */
function reasonFor(message: string): string {
  return classifyError({ type: 'error', message }).reason;
}

/** A TCP server that answers every RTSP request with `status` and a Location (where(port) gives it). */
async function redirector(t: Test, status: string, where: (ownPort: number) => string): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const port: number = await rtspServer(t, (socket, request, cseq) => {
    requests.push(request);
    // OPTIONS is answered, as most redirecting servers do; DESCRIBE is sent elsewhere.
    if (request.startsWith('OPTIONS ')) socket.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n`);
    else socket.write(`RTSP/1.0 ${status}\r\nCSeq: ${cseq}\r\nLocation: ${where(port)}\r\n\r\n`);
  });
  return { url: `rtsp://127.0.0.1:${port}/old`, requests };
}

t.test('a camera that redirects DESCRIBE is followed; credentials go only to the configured host; loops and rtsps:// end with a reason', async (t) => {
  const camera = await startRtspCamera(t, { user: 'viewer', password: 's3cret', auth: 'digest' });
  const cameraPort = new URL(camera.url).port;
  const second = await redirector(t, '301 Moved Permanently', () => camera.url);
  const first = await redirector(t, '302 Moved Temporarily', () => second.url);
  const session = await RtspSession.open({ url: first.url, user: 'viewer', password: 's3cret' });
  t.equal(session.codec, 'h264', 'two redirects later, the camera is described and set up');
  let units = 0;
  await session.play({ unit: () => void (units += 1), end: () => undefined });
  await waitUntil('frames arrive', () => units >= 10, 20_000);
  t.ok(units >= 10, `${units} frames through the redirected session`);
  session.close();

  // rtsp://localhost is not the 127.0.0.1 the credentials were configured for: the camera
  // there asks for them and gets none (a redirect must not hand a camera's password to
  // whatever host it names).
  const elsewhere = await redirector(t, '302 Found', () => `rtsp://localhost:${cameraPort}/stream`);
  const crossHost = await RtspSession.open({ url: elsewhere.url, user: 'viewer', password: 's3cret' }).then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
  t.match(crossHost, /redirected to rtsp:\/\/localhost:\d+, which asks for credentials; libcam sends a camera's credentials only to the host configured for it/, 'redirected to another host: no credentials sent, and it says so');
  t.equal(reasonFor(crossHost ?? ''), `camera stream failed: ${crossHost}`, 'not shown as the configured camera refusing its credentials');
  // A relative Location resolves against the URL asked.
  const relative = await redirector(t, '302 Found', () => `//127.0.0.1:${cameraPort}/stream`);
  const viaRelative = await RtspSession.open({ url: relative.url, user: 'viewer', password: 's3cret' });
  t.equal(viaRelative.codec, 'h264', 'a relative Location is followed, credentials and all');
  viaRelative.close();
  // A redirect to where nothing listens is the redirect's failure, not the configured camera
  // being off: read as "unreachable", the recorder would knock at the configured address
  // (which answers) and retry every second.
  const nowhere = await redirector(t, '302 Found', () => 'rtsp://127.0.0.1:1/stream');
  const unreachable = await RtspSession.open({ url: nowhere.url }).then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
  t.match(unreachable, /redirected to rtsp:\/\/127\.0\.0\.1:1, where no connection could be made \(nothing listens there\)/, 'a dead redirect target: said as such');
  t.notMatch(reasonFor(unreachable ?? ''), /cannot connect to the camera/, 'and not classified as the camera being unreachable');
  const hostless = await redirector(t, '302 Found', () => 'rtsp:/stream');
  await t.rejects(RtspSession.open({ url: hostless.url }), /redirected to a URL without a host/, 'a Location without a host is refused (it would connect to this box)');
  const invalid = await redirector(t, '302 Found', () => 'rtsp://127.0.0.1:99999/x');
  await t.rejects(RtspSession.open({ url: invalid.url }), /redirected to an address that is not a URL/, 'an invalid Location is the camera’s error');
  const loop = await redirector(t, '302 Found', (port) => `rtsp://127.0.0.1:${port}/again`);
  await t.rejects(RtspSession.open({ url: loop.url }), /redirected more than 5 times/, 'a redirect loop ends after 5 hops');
  t.equal(loop.requests.filter((r) => r.startsWith('DESCRIBE')).length, 6, 'six DESCRIBEs, no more');
  const secure = await redirector(t, '302 Found', () => 'rtsps://127.0.0.1:1/x');
  await t.rejects(RtspSession.open({ url: secure.url }), /rtsp:\/\/ only, not rtsps: \(the camera redirected/, 'to rtsps://: says the camera redirected there');
  const noLocation = await redirector(t, '302 Found', () => '');
  await t.rejects(RtspSession.open({ url: noLocation.url }), /answered DESCRIBE with 302/, 'a 302 without a Location is an error with the status');
});
