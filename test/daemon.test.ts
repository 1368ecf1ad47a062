import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { MAX_REQUEST_BYTES, type DoctorResult, type StatusResult } from '../src/protocol.js';
import { ROOT, cli, jsonLines, rawExchange, shortDir, spawnDaemon, startDaemon, waitForSocket, writeConfig } from './helpers/daemon.js';

const staffGid = Number(execFileSync('getent', ['group', 'libcam-staff'], { encoding: 'utf8' }).split(':')[2]);

t.test('a real libcamd on a test-pattern config', async (t) => {
  const daemon = await startDaemon(t);

  t.test('libcam status --json returns the documented fields', async (t) => {
    const r = cli(['status', '--json'], { socket: daemon.socket });
    t.equal(r.status, 0, r.stderr);
    const status = JSON.parse(r.stdout) as Record<string, unknown> & {
      store: Record<string, unknown>;
      cameras: Record<string, unknown>[];
    };
    t.type(status['version'], 'string');
    t.type(status['uptimeS'], 'number');
    t.type(status.store['bytes'], 'number');
    t.ok(Number(status.store['freeBytes']) > 0, 'free bytes of the store filesystem');
    t.same(status.cameras.map((c) => c['name']), ['front-desk', 'stacks']);
    for (const camera of status.cameras) {
      t.ok(['recording', 'connecting', 'backoff', 'paused', 'disabled', 'error'].includes(String(camera['state'])), 'a documented state');
      t.ok(!Number.isNaN(Date.parse(String(camera['since']))), 'since is an ISO time');
      t.ok('lastSegmentEnd' in camera && 'pause' in camera, 'lastSegmentEnd and pause are present');
    }
  });

  t.test('the human status is a table with both cameras', async (t) => {
    const r = cli(['status'], { socket: daemon.socket });
    t.equal(r.status, 0);
    t.match(r.stdout, /CAMERA\s+STATE\s+SINCE/);
    t.match(r.stdout, /^front-desk\s+\w+/m);
    t.match(r.stdout, /^stacks\s+\w+/m);
  });

  t.test("human tables show the box's local time with its zone; --utc and --json show UTC", async (t) => {
    const phoenix = cli(['status'], { socket: daemon.socket, env: { TZ: 'America/Phoenix' } });
    t.match(phoenix.stdout, /^front-desk\s+\w+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d MST\s/m, 'local time, zone named');
    const utc = cli(['--utc', 'status'], { socket: daemon.socket, env: { TZ: 'America/Phoenix' } });
    t.match(utc.stdout, /^front-desk\s+\w+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s/m, '--utc');
    const since = (JSON.parse(cli(['status', '--json'], { socket: daemon.socket, env: { TZ: 'America/Phoenix' } }).stdout) as StatusResult).cameras[0]?.since ?? '';
    t.match(since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '--json: ISO 8601 UTC whatever the zone');
    const hourUtc = new Date(since).getUTCHours();
    const shown = /^front-desk\s+\w+\s+\d{4}-\d\d-\d\d (\d\d):/m.exec(phoenix.stdout)?.[1];
    t.equal(Number(shown), (hourUtc + 24 - 7) % 24, 'seven hours behind UTC (Arizona keeps no summer time)');
  });

  t.test('cameras list shows sources without credentials', async (t) => {
    const r = cli(['--json', 'cameras', 'list'], { socket: daemon.socket });
    t.equal(r.status, 0);
    const list = JSON.parse(r.stdout) as { name: string; source: { kind: string; url: string }; state: string }[];
    t.same(list.map((c) => [c.name, c.source.kind]), [['front-desk', 'test-pattern'], ['stacks', 'test-pattern']]);
  });

  t.test('the socket is 0660 and belongs to the configured group', async (t) => {
    const st = statSync(daemon.socket);
    t.ok(st.isSocket());
    t.equal(st.mode & 0o777, 0o660);
    t.equal(st.gid, staffGid, 'the staff group, not libcamd\'s own');
  });

  t.test('libcam doctor checks the box, one line each', async (t) => {
    const r = cli(['doctor', '--json'], { socket: daemon.socket });
    const result = JSON.parse(r.stdout) as DoctorResult;
    const byName = new Map(result.checks.map((c) => [c.name, c]));
    t.same([...byName.keys()], ['gstreamer', 'store disk', 'store identity', 'index', 'socket', 'notify', 'clock', 'cameras']);
    t.match(byName.get('gstreamer'), { ok: true, detail: /all \d+ elements/ });
    t.match(byName.get('store identity'), { ok: true });
    t.match(byName.get('socket'), { ok: true, detail: /mode 0660/ });
    t.match(byName.get('notify'), { ok: false, detail: /notify is not configured.*set notify\.director/ }, 'no notify configured: says so and what to do');
    t.equal(r.status, 1, 'a check that is not ok: exit 1');
    t.equal(result.ok, false);
    const human = cli(['doctor'], { socket: daemon.socket });
    t.match(human.stdout, /^FAIL\s+notify/m);
    t.match(human.stdout, /^ok\s+gstreamer/m);
    // The socket as it is, not as configured (found from outside: chmod 666 still said ok).
    chmodSync(daemon.socket, 0o666);
    const opened = JSON.parse(cli(['doctor', '--json'], { socket: daemon.socket }).stdout) as DoctorResult;
    t.match(opened.checks.find((c) => c.name === 'socket'), { ok: false, detail: /mode 0666, not 0660: any account can ask libcamd anything/ });
    chmodSync(daemon.socket, 0o660);
  });

  t.test('malformed traffic gets error replies and the daemon keeps answering', async (t) => {
    const replies = jsonLines(
      await rawExchange(
        daemon.socket,
        [
          'this is not json',
          '{"id":1}',
          '{"id":2,"method":"no.such.method"}',
          '{"id":3,"method":"status","params":{"verbose":true}}',
          '{"id":4,"method":"status","params":[]}',
          '[1,2,3]',
          '{"id":5,"method":"status"}',
          '',
        ].join('\n'),
        1500,
      ),
    );
    const byId = new Map(replies.map((r) => [r['id'], r]));
    t.equal(replies.length, 7, 'one reply per line');
    const errorCode = (r: Record<string, unknown> | undefined): unknown => (r?.['error'] as { code?: string } | undefined)?.code;
    t.equal(replies.filter((r) => r['id'] === null && r['ok'] === false).length, 2, 'non-JSON and non-object lines: id null, ok false');
    t.equal(errorCode(byId.get(1)), 'usage', 'missing method');
    t.match(byId.get(2), { ok: false, error: { code: 'usage', message: /unknown method "no.such.method"/ } });
    t.match(byId.get(3), { ok: false, error: { code: 'usage', message: /verbose/ } });
    t.equal(errorCode(byId.get(4)), 'usage', 'params must be an object');
    t.match(byId.get(5), { ok: true, result: { version: String } }, 'a good request on the same connection still works');
  });

  t.test('an oversized line is refused and the connection closed', async (t) => {
    const big = Buffer.alloc(MAX_REQUEST_BYTES + 4096, 0x61);
    const reply = jsonLines(await rawExchange(daemon.socket, big, 5000));
    t.match(reply[0], { id: null, ok: false, error: { code: 'too-large' } });
    t.equal(cli(['status'], { socket: daemon.socket }).status, 0, 'others are still served');
  });

  t.test('a client that hangs up mid-request does not harm the daemon', async (t) => {
    await rawExchange(daemon.socket, '{"id":1,"method":"sta', 100);
    await rawExchange(daemon.socket, '{"id":1,"method":"status"}\n', 0);
    t.equal(cli(['status'], { socket: daemon.socket }).status, 0);
  });

  t.test('a second libcamd on the same store is refused, naming the store and the running daemon', async (t) => {
    const other = shortDir(t);
    const configFile = writeConfig(daemon.dir, { socket: { path: join(other, 'sock'), group: 'libcam-staff' }, index: { path: join(other, 'index') } });
    const second = spawnDaemon(t, other, configFile);
    const { code } = await second.exited;
    t.equal(code, 1);
    t.match(second.stderr(), `store ${join(daemon.dir, 'store')} is in use by libcamd pid ${daemon.proc.pid}`);
    t.equal(cli(['status'], { socket: daemon.socket }).status, 0, 'the first daemon is untouched');
  });

  t.test('SIGTERM stops it gracefully: exit 0 within 10 s, socket removed', async (t) => {
    const started = Date.now();
    daemon.proc.kill('SIGTERM');
    const { code } = await daemon.exited;
    t.equal(code, 0);
    t.ok(Date.now() - started < 10_000, 'within 10 s');
    t.equal(cli(['status'], { socket: daemon.socket }).status, 3, 'nothing answers afterwards');
    const doctor = cli(['doctor'], { socket: daemon.socket });
    t.equal(doctor.status, 3, 'doctor without a daemon: exit 3');
    t.match(doctor.stdout, /^FAIL\s+socket\s+cannot reach libcamd/m, 'says the socket does not answer');
    t.match(doctor.stdout, /^ok\s+gstreamer/m, 'and still checks what needs no daemon');
  });
});

t.test('a stale socket file from a crash is replaced; a live one is not stolen', async (t) => {
  const dir = shortDir(t);
  const configFile = writeConfig(dir);
  const socket = join(dir, 'libcam.sock');
  // A live listener that is not libcamd holds the socket path.
  const squatter = createServer((c) => c.end());
  await new Promise<void>((res) => squatter.listen(socket, res));
  const refused = spawnDaemon(t, dir, configFile);
  t.equal((await refused.exited).code, 1, 'refuses to steal a live socket');
  t.match(refused.stderr(), `another daemon is answering on ${socket}`);
  await new Promise<void>((res) => squatter.close(() => res()));

  // A crash leaves a socket file that nobody listens on: bind one in a process that then exits.
  execFileSync('/usr/bin/python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', socket]);
  t.ok(statSync(socket).isSocket(), 'a stale socket file is there');
  const daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(socket);
  t.equal(cli(['status'], { socket }).status, 0, 'the daemon replaced the stale file and answers');
  daemon.proc.kill('SIGTERM');
  t.equal((await daemon.exited).code, 0);
});

t.test('a second signal during shutdown exits at once, without the graceful path', async (t) => {
  const daemon = await startDaemon(t);
  // Two different signals: the kernel would merge two pending SIGTERMs into one.
  daemon.proc.kill('SIGTERM');
  daemon.proc.kill('SIGINT');
  const { code } = await daemon.exited;
  t.equal(code, 1, 'exit status 1: the second signal cut the graceful stop short');
  t.match(daemon.stdout(), 'second signal: exiting at once');
});

t.test('a shutdown stuck on the main thread is ended from outside', async (t) => {
  // The main thread spins as if stuck in a GStreamer state change: no timer of its own runs.
  const script = `import { killAfter } from ${JSON.stringify(join(ROOT, 'dist', 'daemon', 'hardStop.js'))};
killAfter(300);
const end = Date.now() + 10000; while (Date.now() < end) {}
console.log('still alive');`;
  // Without tap's NODE_OPTIONS (its --import hooks would load into the worker too), as libcamd runs.
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(r.signal, 'SIGKILL', 'killed');
  t.equal(r.stdout, '', 'before the stuck code finished');
  t.match(r.stderr, 'graceful shutdown still not done after 0.3 s; killing libcamd');
});

t.test('so is one stuck inside process.exit, waiting for a libuv pool thread', async (t) => {
  // process.exit ends worker threads first, then joins the pool: a pool thread that never
  // returns (a bus poll that was never woken) held libcamd after it logged "stopped".
  const script = `import { killAfter } from ${JSON.stringify(join(ROOT, 'dist', 'daemon', 'hardStop.js'))};
import { pbkdf2 } from 'node:crypto';
pbkdf2('x', 'y', 200_000_000, 32, 'sha256', () => {});
killAfter(300);
process.exit(0);`;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(r.signal, 'SIGKILL', 'killed instead of waiting for the pool thread');
  t.ok(Date.now() - started < 10_000, `within seconds (${Date.now() - started} ms)`);
  t.match(r.stderr, 'graceful shutdown still not done after 0.3 s');
});

t.test('the hard stop leaves a libcamd that exited in time alone', async (t) => {
  const script = `import { killAfter } from ${JSON.stringify(join(ROOT, 'dist', 'daemon', 'hardStop.js'))};
killAfter(300);
console.log(process.pid);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(r.status, 0);
  t.equal(r.signal, null);
  t.notMatch(r.stderr, 'killing libcamd', 'no message about a process that is gone');
});
