import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger, redactUrl, redactUrls } from '../src/log.js';
import { DAEMON_NODE_FLAGS } from '../src/daemon/nodeFlags.js';
import { DAEMON, shortDir, writeConfig } from './helpers/daemon.js';

t.test('camera URLs are logged without user:pass@', async (t) => {
  t.equal(redactUrl('rtsp://admin:hunter2@10.0.0.21:554/stream1'), 'rtsp://10.0.0.21:554/stream1');
  t.equal(redactUrl('rtsp://ad:m@n:p%40ss@cam/x'), 'rtsp://cam/x', 'an @ inside the password');
  t.equal(redactUrl('http://10.0.0.22/onvif/device_service'), 'http://10.0.0.22/onvif/device_service');
  t.equal(redactUrl('rtsp://cam:554/live?user=admin&password=hunter2&channel=1'), 'rtsp://cam:554/live?user=admin&password=redacted&channel=1', 'a password in the query');
  t.equal(redactUrl('rtsp://cam/user=admin&password=hunter2&channel=1'), 'rtsp://cam/user=admin&password=redacted&channel=1', 'in the path (XMEye)');
  t.equal(redactUrl('rtsp://admin:pw@cam:554x/s'), 'rtsp://cam:554x/s', 'a URL that does not parse');
  t.equal(redactUrls('could not open rtsp://admin:hunter2@10.0.0.21/s (401) and http://x/?pwd=hunter2'), 'could not open rtsp://10.0.0.21/s (401) and http://x/?pwd=redacted', 'inside free text');
});

t.test('passwords and credentials are redacted from log lines', async (t) => {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  const log = createLogger('info', sink);
  log.info({ camera: { name: 'lobby', password: 'hunter2' }, credentials: 'admin:hunter2' }, 'connecting');
  t.notMatch(out, 'hunter2');
  t.match(JSON.parse(out), { msg: 'connecting', camera: { name: 'lobby', password: '[redacted]' }, credentials: '[redacted]' });
});

t.test('on a terminal the log reads as lines for a person, still redacted', async (t) => {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  const log = createLogger('info', sink, true);
  log.info({ camera: 'lobby', credentials: 'admin:hunter2' }, 'connecting');
  t.match(out, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4}\] .*INFO.*connecting/, 'time, level and message first');
  t.throws(() => void JSON.parse(out), 'not a JSON line');
  t.notMatch(out, 'hunter2');
});

t.test('libcamd on a terminal (scripts/demo) prints readable lines; JSON when piped', async (t) => {
  const dir = shortDir(t);
  const config = writeConfig(dir);
  // script(1) gives libcamd a terminal of its own, as a person's shell would.
  const r = spawnSync('script', ['-qec', `timeout -s INT 4 ${process.execPath} ${DAEMON_NODE_FLAGS.join(' ')} ${DAEMON} --config ${config}`, '/dev/null'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
    timeout: 30_000,
  });
  t.match(r.stdout, /INFO.*libcamd ready/, 'the ready line, readable');
  t.notMatch(r.stdout, /^\{"level":/m, 'no JSON lines');
  const piped = spawnSync('timeout', ['-s', 'INT', '3', process.execPath, ...DAEMON_NODE_FLAGS, DAEMON, '--config', config], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  t.match(piped.stdout, /^\{"level":30,.*"msg":"libcamd ready/m, 'piped (journald): JSON lines');
});
