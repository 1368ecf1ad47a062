import t from 'tap';
import { parseTime } from '../src/cli/time.js';
import type { CameraConfig } from '../src/config/types.js';
import { rtspPlan, testPatternPlan } from '../src/pipeline/description.js';
import { BACKOFF_MAX_MS, BACKOFF_MIN_MS, backoffMs } from '../src/pipeline/backoff.js';
import { endpointOf } from '../src/pipeline/reachability.js';

// Pure functions, no GStreamer: what a pipeline description may and may not contain.

t.test('an RTSP URL, user and password never enter the description, only element properties or the client', async (t) => {
  const url = 'rtsp://10.0.0.9/live ! filesink location=/tmp/p';
  for (const transport of ['tcp', 'udp'] as const) {
    const plan = rtspPlan({ url, user: 'admin', password: 'p:a@s%s' }, 10, undefined, transport);
    const descriptions = [plan.description, ...(plan.feed ? [plan.feed.description('h264'), plan.feed.description('h265')] : [])];
    for (const description of descriptions) {
      t.notMatch(description, '/tmp/p', `${transport}: no filesink can be injected`);
      t.equal(description.split('filesink').length, 2, "the one filesink is the recorder's own, inside splitmuxsink");
      t.notMatch(description, '10.0.0.9');
      t.notMatch(description, 'p:a@s%s');
    }
    if (transport === 'tcp') t.same(plan.feed?.source, { url, user: 'admin', password: 'p:a@s%s' }, "TCP: libcam's RTSP client gets them");
    else t.same(plan.properties['src'], { location: url, 'user-id': 'admin', 'user-pw': 'p:a@s%s' }, 'UDP: rtspsrc gets them as properties');
  }
});

t.test('only video is linked: no audio element, depayloader or muxer pad anywhere', async (t) => {
  const feed = rtspPlan({ url: 'rtsp://h/x' }, 10).feed;
  for (const description of [feed?.description('h264') ?? '', feed?.description('h265') ?? '']) {
    t.notMatch(description, /audio|opus|aac|alaw|mulaw|pcm/i);
    t.match(description, /caps="video\/x-h26[45],stream-format=byte-stream,alignment=au"/);
  }
  for (const plan of [rtspPlan({ url: 'rtsp://h/x' }, 10, undefined, 'udp'), rtspPlan({ url: 'rtsp://h/x' }, 10, 'h265', 'udp')]) {
    t.notMatch(plan.description, /audio|opus|aac|alaw|mulaw|pcm/i);
    t.match(plan.description, 'application/x-rtp,media=video');
  }
});

t.test("RTP over TCP: libcam's client feeds an appsrc, the parser of the codec the camera describes, no watchdog element", async (t) => {
  const plan = rtspPlan({ url: 'rtsp://h/x' }, 10, 'h264');
  t.ok(plan.feed, 'the recorder opens the session itself');
  t.equal(plan.eosReachesSink, true);
  t.match(plan.feed?.description('h264'), /^appsrc name=src is-live=true format=time do-timestamp=false .* ! h264parse ! tee name=live/);
  t.match(plan.feed?.description('h265'), 'h265parse ! tee name=live');
  t.notMatch(plan.feed?.description('h264'), 'watchdog', 'the client watches for a stall where frames arrive');
  t.notMatch(plan.feed?.description('h264'), 'rtspsrc');
  const secure = rtspPlan({ url: 'rtsps://h/x' }, 10, 'h264');
  t.equal(secure.feed, undefined, 'rtsps:// stays with rtspsrc');
  t.match(secure.description, 'rtspsrc name=src protocols=tcp');
});

t.test('rtspsrc (UDP): codec known: one branch, EOS reaches the muxer; unknown: both branches behind a funnel', async (t) => {
  const known = rtspPlan({ url: 'rtsp://h/x' }, 10, 'h264', 'udp');
  t.match(known.description, 'rtph264depay ! h264parse ! watchdog name=stall timeout=0 ! tee name=live');
  t.notMatch(known.description, 'h265');
  t.equal(known.eosReachesSink, true);
  const unknown = rtspPlan({ url: 'rtsp://h/x' }, 10, undefined, 'udp');
  t.match(unknown.description, 'rtph264depay');
  t.match(unknown.description, 'rtph265depay');
  t.match(unknown.description, 'funnel name=video');
  t.equal(unknown.eosReachesSink, false);
});

t.test('segments: splitmuxsink with fragmented MP4 and a little slack over segmentSeconds', async (t) => {
  for (const description of [rtspPlan({ url: 'rtsp://h/x' }, 10).feed?.description('h264'), rtspPlan({ url: 'rtsp://h/x' }, 10, 'h264', 'udp').description]) {
    t.match(description, 'splitmuxsink name=sink');
    t.match(description, 'max-size-time=10500000000');
    t.match(description, 'mp4mux fragment-duration=500');
  }
});

t.test('UDP for cameras that offer nothing else: rtspsrc with the same recording tail', async (t) => {
  const udp = rtspPlan({ url: 'rtsp://h/x' }, 10, 'h264', 'udp');
  const tcp = rtspPlan({ url: 'rtsp://h/x' }, 10, 'h264', 'tcp');
  t.match(udp.description, 'rtspsrc name=src protocols=udp ');
  t.notMatch(udp.description, 'protocols=tcp');
  t.equal(udp.feed, undefined);
  const tail = (d: string): string => d.slice(d.indexOf('! tee name=live'));
  t.equal(tail(udp.description), tail(tcp.feed?.description('h264') ?? ''), 'the same recording tail');
});

t.test('test pattern: encoded here, with a keyframe every second', async (t) => {
  const camera: CameraConfig = {
    name: 'demo',
    enabled: true,
    source: { kind: 'test-pattern', width: 640, height: 360, fps: 15, codec: 'h265', pattern: 'ball' },
  };
  const plan = testPatternPlan(camera, 10);
  t.match(plan.description, 'video/x-raw,format=I420,width=640,height=360,framerate=15/1');
  t.match(plan.description, 'x265enc');
  t.match(plan.description, 'key-int-max=15');
});

t.test('camera endpoints for the come-back probe', async (t) => {
  t.same(endpointOf('rtsp://user:pw@10.0.0.9/stream'), { host: '10.0.0.9', port: 554 });
  t.same(endpointOf('rtsp://cam.local:8554/x'), { host: 'cam.local', port: 8554 });
  t.same(endpointOf('http://[fe80::1]/onvif/device_service'), { host: 'fe80::1', port: 80 });
  t.equal(endpointOf('not a url'), undefined);
});

t.test('backoff grows from 1 s to 30 s with jitter', async (t) => {
  t.equal(backoffMs(1, () => 0.5), BACKOFF_MIN_MS);
  t.equal(backoffMs(100, () => 0.5), BACKOFF_MAX_MS);
  t.ok(backoffMs(100, () => 0.999) <= BACKOFF_MAX_MS * 1.2);
  const growing = [1, 2, 3, 4, 5].map((n) => backoffMs(n, () => 0.5));
  t.same([...growing].sort((a, b) => a - b), growing, 'never shrinks as failures repeat');
});

t.test('times: ISO 8601 with a zone, now, relative; anything else names the flag', async (t) => {
  const now = Date.parse('2026-11-28T14:00:00Z');
  t.equal(parseTime('now', '--at', now), now);
  t.equal(parseTime('-15m', '--from', now), now - 900_000);
  t.equal(parseTime('-1d', '--from', now), now - 86_400_000);
  t.equal(parseTime('2026-11-28T08:05:00-06:00', '--from', now), Date.parse('2026-11-28T14:05:00Z'));
  t.throws(() => parseTime('2026-11-28T14:05:00', '--from', now), { code: 'usage', message: /--from: .* is not a time; use ISO 8601 with a zone/ });
  t.throws(() => parseTime('yesterday', '--to', now), { message: /^--to: "yesterday"/ });
});
