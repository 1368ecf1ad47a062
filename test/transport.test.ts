import t from 'tap';
import type { StatusResult } from '../src/protocol.js';
import { cli, startDaemon, waitUntil } from './helpers/daemon.js';
import { ffmpegErrors, ffprobe, recordings, segmentPath } from './helpers/footage.js';
import { startRtspCamera } from './helpers/rtspCamera.js';

// Some cameras and encoders offer RTP over UDP only and answer a TCP SETUP with
// 461 Unsupported transport; the simulator is told to do the same.
const statusOf = (socket: string): StatusResult => JSON.parse(cli(['status', '--json'], { socket }).stdout) as StatusResult;

t.test('a camera that offers only UDP is recorded (transport auto), video only', async (t) => {
  const camera = await startRtspCamera(t, { transport: 'udp', audio: 'opus' });
  const daemon = await startDaemon(t, { cameras: [{ name: 'annex', source: { kind: 'rtsp', url: camera.url } }] });
  await waitUntil('annex records', () => recordings(daemon.socket, 'annex').segments.length >= 2, 60_000);
  const annex = statusOf(daemon.socket).cameras.find((c) => c.name === 'annex');
  t.match(annex, { state: 'recording', transport: 'udp' }, 'recording, over UDP');
  const segment = recordings(daemon.socket, 'annex').segments[0];
  const file = segmentPath(daemon.dir + '/store', segment?.file ?? '');
  t.equal(ffmpegErrors(file), '', 'the segment plays cleanly');
  t.same(ffprobe(file).streams.map((s) => `${s.codec_type}/${s.codec_name}`), ['video/h264'], 'one video stream, no audio');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('transport tcp against a UDP-only camera: error naming the refusal, not backoff for ever', async (t) => {
  const camera = await startRtspCamera(t, { transport: 'udp', audio: 'none' });
  const daemon = await startDaemon(t, { cameras: [{ name: 'annex', source: { kind: 'rtsp', url: camera.url, transport: 'tcp' } }] });
  await waitUntil('annex is in error', () => statusOf(daemon.socket).cameras[0]?.state === 'error', 30_000);
  t.match(statusOf(daemon.socket).cameras[0], { state: 'error', reason: /refused RTP over TCP.*set source\.transport to udp or auto/ });
  t.same(recordings(daemon.socket, 'annex').segments, [], 'nothing recorded');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('transport udp against a TCP-only camera: error naming the refusal', async (t) => {
  const camera = await startRtspCamera(t, { transport: 'tcp', audio: 'none' });
  const daemon = await startDaemon(t, { cameras: [{ name: 'annex', source: { kind: 'rtsp', url: camera.url, transport: 'udp' } }] });
  await waitUntil('annex is in error', () => statusOf(daemon.socket).cameras[0]?.state === 'error', 30_000);
  t.match(statusOf(daemon.socket).cameras[0], { state: 'error', reason: /refused RTP over UDP.*set source\.transport to tcp or auto/ });
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});
