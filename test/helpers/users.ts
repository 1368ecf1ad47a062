import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT, type CliResult } from './daemon.js';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

function run(cmd: string, args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r;
}

/** A real OS account made for this test (and removed after it), in `groups` besides its own. */
export function createUser(t: Test, groups: string[] = []): OsUser {
  const name = `lct-${randomBytes(4).toString('hex')}`;
  run('useradd', ['--system', '--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', ...(groups.length > 0 ? ['--groups', groups.join(',')] : []), name]);
  t.teardown(() => {
    spawnSync('pkill', ['-KILL', '-u', name]); // runuser's children outlive a killed runuser
    spawnSync('userdel', ['--force', name]);
  });
  return { name, uid: Number(run('id', ['-u', name]).stdout), gid: Number(run('id', ['-g', name]).stdout) };
}

/** Runs a program as `user` (runuser: its uid, its groups), for attempts that need nothing of the checkout. */
export function runAs(user: OsUser, cmd: string, args: string[]): CliResult {
  const r = spawnSync('runuser', ['-u', user.name, '--', cmd, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs `libcam ARGS` as `user`: the CLI's modules are loaded first, then the process takes
 * the user's uid, gid and groups (as runuser would) before it does anything else — so the
 * checkout need not be readable by the test account, and the kernel reports that account
 * on the socket.
 */
export function cliAs(user: OsUser, args: string[], socket: string, opts: { input?: string; cwd?: string } = {}): CliResult {
  const script = `
const { runLibcam } = await import(${JSON.stringify(join(ROOT, 'dist', 'cli', 'run.js'))});
process.initgroups(${JSON.stringify(user.name)}, ${user.gid});
process.setgid(${user.gid});
process.setuid(${user.uid});
process.exitCode = await runLibcam(process.argv.slice(0, 1).concat('libcam', process.argv.slice(1)));
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    input: opts.input ?? '',
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
    env: { ...process.env, NODE_OPTIONS: '', LIBCAM_SOCKET: socket },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One request line sent as `user` by a client that is not libcam (python), with the first reply line. */
export function rawAs(user: OsUser, socket: string, request: unknown): Record<string, unknown> {
  const py =
    'import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.sendall(sys.argv[2].encode()+b"\\n")\nprint(s.makefile().readline(), end="")';
  const r = runAs(user, '/usr/bin/python3', ['-c', py, socket, JSON.stringify(request)]);
  if (r.status !== 0) throw new Error(`raw client as ${user.name}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
