import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { cliAsync, shortDir, startDaemon } from './helpers/daemon.js';
import { ffprobe, recordings } from './helpers/footage.js';
import { startOnvifDevice } from './helpers/onvifDevice.js';
import { startRtspCamera } from './helpers/rtspCamera.js';

const user = 'admin';
const password = 'onvif-S3cret';
const rtsp = await startRtspCamera(t, { audio: 'aac', user, password, auth: 'digest' });
const device = await startOnvifDevice(t, { rtspUri: rtsp.url, user, password, name: 'Reading Room', hardware: 'SIM-1', discovery: true });
const dir = shortDir(t);
const credentials = join(dir, 'onvif.cred');
writeFileSync(credentials, `${user}:${password}\n`, { mode: 0o600 });
const wrong = join(dir, 'wrong.cred');
writeFileSync(wrong, `${user}:guess\n`, { mode: 0o600 });

t.test('cameras probe lists the profiles and their stream URIs', async (t) => {
  const r = await cliAsync(['cameras', 'probe', '--onvif', device.url, '--password-file', credentials, '--json']);
  t.equal(r.status, 0, r.stderr);
  const probe = JSON.parse(r.stdout) as { device: { manufacturer: string; model: string }; profiles: { token: string; rtspUri: string; width: number }[] };
  t.same(probe.device, { manufacturer: 'Libcam Test Optics', model: 'SIM-1' });
  t.same(
    probe.profiles.map((p) => [p.token, p.width, p.rtspUri]),
    [
      ['main', 320, rtsp.url],
      ['sub', 160, rtsp.url],
    ],
  );
  t.ok(device.calls.filter((c) => c.action !== 'GetSystemDateAndTime').every((c) => c.authenticated), 'every call after the clock carried a valid UsernameToken');
  const table = await cliAsync(['cameras', 'probe', '--onvif', device.url, '--user', user, '--password-file', join(dir, 'pw')]);
  t.equal(table.status, 2, 'an unreadable password file is bad input');
  t.match(table.stderr, '--password-file: cannot read');
});

t.test('cameras probe with a wrong password says the device refused', async (t) => {
  const r = await cliAsync(['cameras', 'probe', '--onvif', device.url, '--password-file', wrong]);
  t.equal(r.status, 1);
  t.match(r.stderr, /ONVIF device .* did not answer: .*not Authorized/i);
});

t.test('cameras discover finds the simulator by WS-Discovery', async (t) => {
  const r = await cliAsync(['cameras', 'discover', '--timeout', '2s', '--json']);
  t.equal(r.status, 0, r.stderr);
  const found = (JSON.parse(r.stdout) as { address: string; xaddr: string; name: string; hardware: string }[]).find((d) => d.address === device.urn);
  t.same(found, { address: device.urn, xaddr: device.url, name: 'Reading Room', hardware: 'SIM-1' });
  const bad = await cliAsync(['cameras', 'discover', '--timeout', 'soon']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, '--timeout: "soon" is not a duration');
});

t.test('an onvif camera records the stream its device points at', async (t) => {
  const daemon = await startDaemon(t, {
    cameras: [
      { name: 'reading-room', source: { kind: 'onvif', url: device.url, credentialsFile: credentials } },
      { name: 'wrong-login', source: { kind: 'onvif', url: device.url, credentialsFile: wrong } },
    ],
  });
  const deadline = Date.now() + 40_000;
  let r = recordings(daemon.socket, 'reading-room');
  while (r.segments.length < 2 && Date.now() < deadline) {
    await sleep(500);
    r = recordings(daemon.socket, 'reading-room');
  }
  t.ok(r.segments.length >= 2, `segments recorded (${r.segments.length})`);
  const probe = ffprobe(join(daemon.dir, 'store', r.segments[0]?.file ?? ''));
  t.same(
    probe.streams.map((s) => s.codec_type),
    ['video'],
    'video only, though the camera sends AAC',
  );
  t.ok(
    device.calls.some((c) => c.action === 'GetStreamUri' && c.authenticated),
    'the stream URI was asked of the device with credentials',
  );
  const list = await cliAsync(['cameras', 'list', '--json'], { socket: daemon.socket });
  t.match(JSON.parse(list.stdout), [
    { name: 'reading-room', source: { kind: 'onvif', url: device.url }, state: 'recording' },
    { name: 'wrong-login', state: 'error' },
  ]);
  const status = JSON.parse((await cliAsync(['status', '--json'], { socket: daemon.socket })).stdout) as { cameras: { name: string; reason: string }[] };
  t.match(
    status.cameras.find((c) => c.name === 'wrong-login')?.reason,
    /refused the credentials/,
    'a device refusing the login puts the camera in error, saying so',
  );
  t.notMatch(list.stdout, password, 'the password is never shown');
});
