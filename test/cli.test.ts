import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import type { FsckResult } from '../src/protocol.js';
import { cli, cliAsync, shortDir } from './helpers/daemon.js';

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

t.test("fsck's exit status follows each problem's repaired field, not the wording of the repair", async (t) => {
  // A stand-in daemon (one canned fsck reply): the wording of `repair` is free text for a
  // person; only `repaired` decides whether anything is left to do.
  const socket = join(shortDir(t), 'canned.sock');
  let reply: FsckResult = { ok: true, problems: [], checked: { segments: 0, files: 0, deep: false }, repaired: true };
  const server = createServer((c) => {
    c.once('data', (d) => {
      const { id } = JSON.parse(d.toString()) as { id: number };
      c.end(`${JSON.stringify({ id, ok: true, result: reply })}\n`);
    });
  });
  await new Promise<void>((res) => server.listen(socket, res));
  t.teardown(() => server.close());
  const problem = { kind: 'missing-file' as const, camera: 'lobby', file: 'lobby/x.mp4', detail: 'gone' };

  reply = { ...reply, ok: false, problems: [{ ...problem, repair: 'entry removed; the time is now a file-lost gap', repaired: false }] };
  t.equal((await cliAsync(['fsck', '--repair'], { socket })).status, 1, 'not repaired, whatever the text says: exit 1');
  reply = { ...reply, ok: false, problems: [{ ...problem, repair: 'left alone: the file is there again', repaired: true }] };
  t.equal((await cliAsync(['fsck', '--repair'], { socket })).status, 0, 'repaired, whatever the text says: exit 0');
  reply = { ...reply, ok: false, repaired: false, problems: [problem] };
  t.equal((await cliAsync(['fsck'], { socket })).status, 1, 'a problem without --repair: exit 1');
});
