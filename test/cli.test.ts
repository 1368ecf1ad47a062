import { join } from 'node:path';
import t from 'tap';
import { cli, shortDir } from './helpers/daemon.js';

t.test('bad usage exits 2 and says what was wrong', async (t) => {
  const unknown = cli(['frobnicate']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, "unknown command 'frobnicate'");

  const badFlag = cli(['status', '--colour']);
  t.equal(badFlag.status, 2);
  t.match(badFlag.stderr, "unknown option '--colour'");

  const missingArg = cli(['config', 'check']);
  t.equal(missingArg.status, 2);
  t.match(missingArg.stderr, "missing required argument 'file'");
});

t.test('no daemon exits 3 with a hint naming the socket path', async (t) => {
  const socket = join(shortDir(t), 'nobody-home.sock');
  const viaFlag = cli(['--socket', socket, 'status']);
  t.equal(viaFlag.status, 3);
  t.match(viaFlag.stderr, `cannot reach libcamd at ${socket}`);
  t.match(viaFlag.stderr, 'is libcamd running');

  const viaEnv = cli(['cameras', 'list', '--json'], { socket });
  t.equal(viaEnv.status, 3, '$LIBCAM_SOCKET is used when --socket is absent');
  t.match(viaEnv.stderr, socket);
  t.match(JSON.parse(viaEnv.stdout), { error: { code: 'unavailable' } }, '--json still prints one JSON document');
});

t.test('--help works on every command and exits 0', async (t) => {
  for (const args of [[], ['status'], ['cameras'], ['cameras', 'list'], ['config'], ['config', 'check']]) {
    const r = cli([...args, '--help']);
    t.equal(r.status, 0, `libcam ${args.join(' ')} --help`);
    t.match(r.stdout, /Usage: libcam/);
  }
  t.match(cli(['--help']).stdout, 'Exit status: 0 done', 'the top-level help teaches the exit statuses');
});
