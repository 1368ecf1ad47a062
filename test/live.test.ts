import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { testPatternPlan } from '../src/pipeline/description.js';
import { GdpReader, type GdpPacket } from '../src/pipeline/gdp.js';
import { createPipeline, type BusMessage, type GstPipeline } from '../src/pipeline/gst.js';
import { JpegDecoder } from '../src/pipeline/jpegDecoder.js';
import { LiveFeed } from '../src/pipeline/liveFeed.js';
import { LiveChannel, type LiveViewer } from '../src/web/liveChannel.js';
import { ROOT, shortDir } from './helpers/daemon.js';
import { ffmpegErrors, startsOnKeyframe } from './helpers/footage.js';

// The live view's parts between the recording pipeline's live branch and the browser, fed
// what the branch really writes: gdppay's output of a GStreamer-encoded stream, cut into
// reads at random places. ffprobe and ffmpeg judge the MP4 they make; the whole path, in
// Chromium with a real daemon, is test/web.test.ts.

const log = pino({ level: 'silent' });

/** What gdppay writes for `frames` frames at 10 fps with a keyframe every 10. */
function gdpStream(dir: string, codec: 'h264' | 'h265', frames: number): Buffer {
  const file = join(dir, `${codec}.gdp`);
  const encoder = codec === 'h264' ? 'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! h264parse' : 'x265enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! h265parse';
  const description = `videotestsrc num-buffers=${frames} pattern=smpte ! video/x-raw,format=I420,width=320,height=240,framerate=10/1 ! ${encoder} ! video/x-${codec},stream-format=${codec === 'h264' ? 'avc' : 'hvc1'} ! gdppay ! filesink`;
  const r = spawnSync('gst-launch-1.0', ['-q', ...description.split(' '), `location=${file}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gst-launch: ${r.stderr}`);
  return readFileSync(file);
}

/** The stream as Node's reads might cut it: random chunk sizes, seeded. */
function packets(stream: Buffer, seed = 7): GdpPacket[] {
  const reader = new GdpReader();
  const out: GdpPacket[] = [];
  let x = seed;
  for (let at = 0; at < stream.length; ) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (x % 9000);
    out.push(...reader.push(stream.subarray(at, at + n)));
    at += n;
  }
  return out;
}

/** A tile that keeps what it is sent. */
function viewer(): LiveViewer & { messages: (string | Buffer)[] } {
  const messages: (string | Buffer)[] = [];
  return { messages, send: (data) => messages.push(data), backlog: () => 0 };
}

/** Feeds a channel as a LiveFeed would: caps with the sticky events before them, then frames and events. */
function feed(channel: LiveChannel, list: GdpPacket[]): void {
  let prelude: Buffer[] = [];
  let capsSeen = false;
  for (const p of list) {
    if (p.kind === 'caps') {
      channel.caps(p.caps, Buffer.concat([...prelude, p.raw]));
      capsSeen = true;
    } else if (p.kind === 'event') {
      if (capsSeen) channel.event(p.raw);
      else prelude = [p.raw];
    } else channel.frame(p);
  }
}

t.test('GDP: every frame of the stream, with its keyframe flag and times, however the reads cut it', async (t) => {
  const dir = shortDir(t);
  const stream = gdpStream(dir, 'h264', 30);
  for (const seed of [1, 7, 99]) {
    const list = packets(stream, seed);
    const frames = list.filter((p) => p.kind === 'buffer');
    t.equal(frames.length, 30, `seed ${seed}: 30 frames`);
    t.same(frames.map((f, i) => (f.keyframe ? i : -1)).filter((i) => i >= 0), [0, 10, 20], 'keyframes where the encoder put them');
    t.ok(frames.every((f, i) => i === 0 || (f.dts ?? 0n) > (frames[i - 1]?.dts ?? 0n)), 'decoding times rise');
    t.match(list.find((p) => p.kind === 'caps'), { caps: /^video\/x-h264, .*codec_data=\(buffer\)01/ }, 'the caps with the codec data');
  }
  t.throws(() => new GdpReader().push(Buffer.alloc(100, 7)), /not a GDP 1\.0 stream/, 'bytes that are not GDP are refused, not misread');
});

t.test('H.264: an init segment and a media segment per frame that ffmpeg plays; late viewers start at a keyframe', async (t) => {
  const dir = shortDir(t);
  const list = packets(gdpStream(dir, 'h264', 40));
  const channel = new LiveChannel(new LiveFeed('lobby', log), log);
  const first = viewer();
  channel.add(first);
  const frames = list.filter((p) => p.kind === 'buffer');
  const cut = list.indexOf(frames[14] ?? frames[0]!);
  feed(channel, list.slice(0, cut));
  const late = viewer();
  channel.add(late); // joins mid-GOP, at frame 14
  feed(channel, list.slice(cut));

  const hello = JSON.parse(String(first.messages[0])) as { type: string; mime: string };
  t.match(hello, { type: 'mp4', mime: /^video\/mp4; codecs="avc1\.[0-9a-f]{6}"$/ }, 'the tile is told the MIME type MSE needs');
  t.same(JSON.parse(String(late.messages[0])), hello, 'and so is a late viewer');
  for (const [name, v, expected] of [
    ['first viewer', first, 39],
    ['late viewer', late, 19],
  ] as const) {
    const binary = v.messages.filter((m): m is Buffer => Buffer.isBuffer(m));
    t.equal(binary[0]?.subarray(4, 8).toString(), 'ftyp', `${name}: the init segment first`);
    const media = binary.slice(1);
    t.equal(media.length, expected, `${name}: one segment per frame from its first keyframe (the newest waits for its successor)`);
    t.ok(media[0] && startsOnKeyframe(media[0]), `${name}: its first frame is a keyframe`);
    const file = join(dir, `${name.replace(' ', '-')}.mp4`);
    writeFileSync(file, Buffer.concat(binary));
    t.equal(ffmpegErrors(file), '', `${name}: ffmpeg decodes what it was sent without an error`);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' });
    t.match(JSON.parse(probe.stdout), { streams: [{ codec_name: 'h264', width: 320, height: 240, nb_read_frames: String(expected) }] }, `${name}: ${expected} frames of 320x240 H.264`);
  }
});

t.test('H.264: time that goes back starts viewers over; a slow viewer skips to the next keyframe', async (t) => {
  const dir = shortDir(t);
  const list = packets(gdpStream(dir, 'h264', 30));
  const channel = new LiveChannel(new LiveFeed('lobby', log), log);
  let backlog = 0;
  const slow = { ...viewer(), backlog: () => backlog };
  const messages: (string | Buffer)[] = [];
  slow.send = (data) => messages.push(data);
  channel.add(slow);
  const frames = list.filter((p) => p.kind === 'buffer');
  feed(channel, list);
  const before = messages.length;
  feed(channel, frames.slice(0, 5)); // the same times again: a camera whose clock went back
  t.equal(JSON.parse(String(messages[before])).type, 'mp4', 'time going back: the tile is told to start over');
  t.equal(Buffer.from(messages[before + 1] as Buffer).subarray(4, 8).toString(), 'ftyp', 'with a fresh init segment');
  backlog = 10 << 20;
  const sent = messages.length;
  feed(channel, frames.slice(5, 12)); // frames 5..11, with the keyframe at 10
  t.equal(messages.length, sent, 'a viewer 10 MB behind is sent nothing, not even a keyframe');
  backlog = 0;
  feed(channel, frames.slice(12, 25));
  t.equal(messages.slice(sent).filter((m) => Buffer.isBuffer(m)).length, 4, 'once it caught up: from the next keyframe (20) on');
  const resumed = messages.slice(sent).filter((m): m is Buffer => Buffer.isBuffer(m));
  t.ok(resumed.length > 0 && resumed[0] !== undefined && startsOnKeyframe(resumed[0]), 'then resumes at a keyframe');
});

t.test('H.265: JPEGs of the picture, at most four a second, from a decoder that stops with the last viewer', async (t) => {
  const dir = shortDir(t);
  const list = packets(gdpStream(dir, 'h265', 30));
  const pictures: Buffer[] = [];
  let decoder: JpegDecoder | undefined;
  const channel = new LiveChannel(new LiveFeed('entrance', log), log, (handlers) => {
    decoder = new JpegDecoder(log, {
      picture: (jpeg) => {
        pictures.push(jpeg);
        handlers.picture(jpeg);
      },
      failed: (reason) => handlers.failed(reason),
    });
    return decoder;
  });
  const tile = viewer();
  channel.add(tile);
  feed(channel, list);
  const started = Date.now();
  while (pictures.length < 8 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 100));
  const hello = JSON.parse(String(tile.messages[0])) as { type: string; why: string };
  t.match(hello, { type: 'jpeg', why: /H\.265/ }, 'the tile is told it gets pictures, and why');
  t.ok(pictures.length >= 8 && pictures.length <= 14, `3 s of stream gave ${pictures.length} pictures (4 a second at most, 2 at least)`);
  const file = join(dir, 'picture.jpg');
  writeFileSync(file, pictures[0] ?? Buffer.alloc(0));
  const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', file], { encoding: 'utf8' });
  t.match(JSON.parse(probe.stdout), { streams: [{ codec_name: 'mjpeg', width: 640, height: 480 }] }, 'each a JPEG, tile-sized, the picture\'s shape kept');
  t.ok(tile.messages.some((m) => Buffer.isBuffer(m) && m[0] === 0xff && m[1] === 0xd8), 'and the tile was sent them');
  t.equal(decoder?.running, true, 'the decoder runs while someone watches');
  channel.remove(tile);
  t.equal(decoder?.running, false, 'and is stopped with the last viewer');
});

/** A recording pipeline as libcamd builds it for a test-pattern camera, its live branch attached. */
function recording(dir: string): { pipeline: GstPipeline; feed: LiveFeed; detach: () => void; bus: BusMessage[] } {
  const plan = testPatternPlan({ name: 'lobby', enabled: true, source: { kind: 'test-pattern', width: 320, height: 240, fps: 10, codec: 'h264', pattern: 'ball' } }, 2);
  const pipeline = createPipeline(plan.description);
  const sink = pipeline.findChild('sink');
  if (!sink) throw new Error('no sink');
  sink['location'] = join(dir, '%05d.mp4');
  const feed = new LiveFeed('lobby', log);
  const detach = feed.attach(pipeline);
  const bus: BusMessage[] = [];
  pipeline.pollBus((m) => bus.push(m));
  pipeline.play();
  return { pipeline, feed, detach, bus };
}

const until = async (ok: () => boolean, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (ok()) return true;
  return ok();
};

t.test('stopping a run nobody watches: EOS passes the live branch and the pipeline ends at once', async (t) => {
  const dir = shortDir(t);
  const { pipeline, feed, detach, bus } = recording(dir);
  t.teardown(() => {
    pipeline.stop();
    detach();
  });
  t.ok(await until(() => bus.some((m) => m.name === 'splitmuxsink-fragment-opened'), 10_000), 'recording');
  const asked = Date.now();
  feed.openForEos(); // what the recorder does before it sends EOS (a pause, a stop)
  pipeline.sendEOS();
  t.ok(await until(() => bus.some((m) => m.type === 'eos'), 4_000), `EOS reached the bus in ${Date.now() - asked} ms (a shut valve would hold every pause and stop for 5 s)`);
  t.notOk(bus.some((m) => m.type === 'error'), 'with no error');
});

t.test('a failing viewer or live branch does not touch recording', async (t) => {
  const dir = shortDir(t);
  const { pipeline, feed, detach, bus } = recording(dir);
  t.teardown(() => {
    pipeline.stop();
    detach();
  });
  let frames = 0;
  feed.subscribe({ caps: () => undefined, event: () => undefined, frame: () => { throw new Error('a listener that breaks'); } });
  feed.subscribe({ caps: () => undefined, event: () => undefined, frame: () => void (frames += 1) });
  t.ok(await until(() => frames >= 10, 10_000), 'a listener that throws does not keep frames from the others');
  feed.disable();
  const segments = (): number => bus.filter((m) => m.name === 'splitmuxsink-fragment-closed').length;
  t.ok(await until(() => segments() >= 2, 10_000), 'with the branch disabled, segments keep closing');
  t.notOk(bus.some((m) => m.type === 'error'), 'and nothing failed');
});

t.test('stopping a watched camera after the event loop stalled does not hang libcamd', async (t) => {
  // The writer end of the pipe must not block: stop() runs on Node's main thread, the only
  // reader. A child process does it, so a hang fails this test instead of the suite.
  const dir = shortDir(t);
  const script = join(dir, 'stall.mjs');
  writeFileSync(
    script,
    `import { createPipeline } from '${ROOT}/dist/pipeline/gst.js';
import { testPatternPlan } from '${ROOT}/dist/pipeline/description.js';
import { LiveFeed } from '${ROOT}/dist/pipeline/liveFeed.js';
const log = { warn() {}, info() {}, debug() {}, error() {}, child() { return this; } };
const plan = testPatternPlan({ name: 'x', enabled: true, source: { kind: 'test-pattern', width: 1280, height: 720, fps: 25, codec: 'h264', pattern: 'snow' } }, 2);
const p = createPipeline(plan.description.replace('x264enc ', 'x264enc bitrate=8000 '));
p.findChild('sink').location = '${dir}/%05d.mp4';
const feed = new LiveFeed('x', log);
const detach = feed.attach(p);
feed.subscribe({ caps() {}, event() {}, frame() {} });
p.play();
await new Promise((r) => setTimeout(r, 2000));
const end = Date.now() + 3000; while (Date.now() < end) {} // 3 s without reading the pipe
p.stop();
detach();
console.log('stopped');
process.exit(0);
`,
  );
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.stdout.trim(), 'stopped', `the pipeline stopped (exit ${r.status ?? r.signal})`);
});

t.test('H.265: a decoder that fails starts again at a keyframe, later each time, and leaks no descriptor', async (t) => {
  const dir = shortDir(t);
  const list = packets(gdpStream(dir, 'h265', 30));
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  let now = 0;
  let starts = 0;
  let pictures = 0;
  const channel = new LiveChannel(
    new LiveFeed('entrance', log),
    log,
    (handlers) =>
      new JpegDecoder(log, { picture: (jpeg) => { pictures += 1; handlers.picture(jpeg); }, failed: (reason) => handlers.failed(reason) }, (description) => {
        starts += 1;
        if (starts <= 2) throw new Error('no element "avdec_h265"'); // a box without gst-libav, twice
        return createPipeline(description);
      }),
    () => now,
  );
  const tile = viewer();
  channel.add(tile);
  const frames = list.filter((p) => p.kind === 'buffer');
  feed(channel, list.filter((p) => p.kind !== 'buffer'));
  t.equal(starts, 1, 'the first start failed');
  feed(channel, frames.slice(0, 12));
  t.equal(starts, 1, 'no new start before its wait is over (2 s)');
  now = 2_000;
  feed(channel, frames.slice(12, 21));
  t.equal(starts, 2, 'the next start waits for a keyframe once the wait is over, and fails too');
  now = 5_000;
  feed(channel, frames.slice(21, 30));
  t.equal(starts, 2, 'the wait doubles (4 s)');
  now = 6_100;
  feed(channel, frames); // the camera's next GOPs
  t.equal(starts, 3, 'then it starts');
  t.ok(await until(() => pictures > 0, 10_000), 'and sends pictures');
  channel.remove(tile);
  t.ok(await until(() => fds() <= before, 5_000), `no descriptor left behind (${before} before, ${fds()} after)`);
});
