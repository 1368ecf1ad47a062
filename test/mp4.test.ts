import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { scanMp4Buffer, videoCodecOf } from '../src/store/mp4.js';
import { shortDir } from './helpers/daemon.js';
import { ffmpegErrors } from './helpers/footage.js';

/** A 3 s fragmented MP4 written by the same muxer settings the recorder uses. */
function record(dir: string, codec: 'h264' | 'h265'): string {
  const file = join(dir, `${codec}.mp4`);
  const encoder = codec === 'h264' ? 'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! h264parse' : 'x265enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! h265parse';
  const r = spawnSync(
    'gst-launch-1.0',
    ['-q', ...`videotestsrc num-buffers=30 ! video/x-raw,width=160,height=120,framerate=10/1 ! ${encoder} ! mp4mux fragment-duration=500 ! filesink`.split(' '), `location=${file}`],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`gst-launch: ${r.stderr}`);
  return file;
}

t.test('a whole file: every fragment counted, its duration and codec read', async (t) => {
  const dir = shortDir(t);
  for (const codec of ['h264', 'h265'] as const) {
    const data = readFileSync(record(dir, codec));
    const scan = scanMp4Buffer(data);
    t.equal(scan.clean, true, `${codec}: ends on a box boundary`);
    t.equal(scan.playableBytes, data.length);
    t.equal(Math.round(scan.durationMs), 3000, `${codec}: 3 s`);
    t.equal(scan.fragments, 6, `${codec}: half-second fragments`);
    t.equal(videoCodecOf(data), codec);
  }
});

t.test('a file cut mid-fragment (a crash): cut back to the last whole fragment, which plays', async (t) => {
  const dir = shortDir(t);
  const data = readFileSync(record(dir, 'h264'));
  const cut = data.subarray(0, Math.floor(data.length * 0.6));
  const scan = scanMp4Buffer(cut);
  t.equal(scan.clean, false);
  t.ok(scan.playableBytes < cut.length, 'the partial fragment is not counted');
  t.ok(scan.durationMs >= 1000 && scan.durationMs < 3000, `${scan.durationMs} ms of 3000 survive`);
  const repaired = join(dir, 'repaired.mp4');
  writeFileSync(repaired, cut.subarray(0, scan.playableBytes));
  t.equal(ffmpegErrors(repaired), '', 'what is kept decodes cleanly');
  t.equal(scanMp4Buffer(Buffer.alloc(0)).fragments, 0, 'an empty file has nothing playable');
});
