import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger, redactUrl } from '../src/log.js';

t.test('camera URLs are logged without user:pass@', async (t) => {
  t.equal(redactUrl('rtsp://admin:hunter2@10.0.0.21:554/stream1'), 'rtsp://10.0.0.21:554/stream1');
  t.equal(redactUrl('rtsp://ad:m@n:p%40ss@cam/x'), 'rtsp://cam/x', 'an @ inside the password');
  t.equal(redactUrl('http://10.0.0.22/onvif/device_service'), 'http://10.0.0.22/onvif/device_service');
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
