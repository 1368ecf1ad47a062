import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startDaemon } from './helpers/daemon.js';
import { holes, recordings, type Recordings } from './helpers/footage.js';
import { startRtspCamera } from './helpers/rtspCamera.js';

/** Polls `libcam recordings` until `done` holds, or fails after `ms`. */
async function until(socket: string, camera: string, done: (r: Recordings) => boolean, ms: number): Promise<Recordings> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = recordings(socket, camera);
    if (done(r)) return r;
    if (Date.now() > deadline) throw new Error(`${camera}: condition not met within ${ms} ms: ${JSON.stringify(r)}`);
    await sleep(250);
  }
}

t.test('a camera switched off for 10 s: camera-lost gap, back within 5 s, the other camera untouched', async (t) => {
  const flaky = await startRtspCamera(t, { audio: 'opus' });
  const steady = await startRtspCamera(t, { audio: 'none' });
  const daemon = await startDaemon(t, {
    cameras: [
      { name: 'flaky', source: { kind: 'rtsp', url: flaky.url } },
      { name: 'steady', source: { kind: 'rtsp', url: steady.url } },
    ],
  });
  await until(daemon.socket, 'flaky', (r) => r.segments.length >= 2, 30_000);

  const offAt = Date.now();
  await flaky.stop();
  await sleep(10_000);
  await flaky.start();
  const backAt = Date.now();

  const after = await until(daemon.socket, 'flaky', (r) => r.segments.some((s) => Date.parse(s.start) > backAt - 1000), 30_000);
  const gap = after.gaps.find((g) => g.cause === 'camera-lost');
  t.ok(gap, 'a camera-lost gap was recorded');
  const gapStart = Date.parse(gap?.start ?? '');
  const gapEnd = Date.parse(gap?.end ?? '');
  t.ok(gapStart <= offAt + 1000, `the gap starts when the camera went away (${gapStart - offAt} ms after)`);
  t.ok(gapEnd >= backAt - 1000, `and lasts until it was back (${gapEnd - backAt} ms after)`);
  const resumed = after.segments.find((s) => Date.parse(s.start) >= gapEnd);
  t.ok(resumed, 'recording resumed');
  const resumedIn = Date.parse(resumed?.start ?? '') - backAt;
  t.ok(resumedIn <= 5000, `within 5 s of the camera coming back (${resumedIn} ms)`);
  t.ok(
    after.segments.every((s) => Date.parse(s.end) <= gapStart || Date.parse(s.start) >= gapEnd),
    'no segment overlaps the gap',
  );

  const other = recordings(daemon.socket, 'steady');
  t.equal(other.gaps.length, 0, 'the other camera has no gap');
  const worst = Math.max(...holes(other).map(Math.abs));
  t.ok(worst <= 100, `and recorded straight through (worst hole ${worst} ms)`);
  t.ok(Date.parse(other.segments[0]?.start ?? '') < offAt && Date.parse(other.segments.at(-1)?.end ?? '') > backAt, 'across the whole outage');
});
