// What the benchmark, soak and fault scripts share: the camera simulator, a self-signed
// certificate for the live view, and a staff login as a browser makes it.
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DAEMON_NODE_FLAGS } from '../../dist/daemon/nodeFlags.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** node's arguments to run libcamd on `config` as it ships (its V8 flags), `nodeArgs` after them (later flags win). */
export function libcamdArgs(config, nodeArgs = []) {
  return [...DAEMON_NODE_FLAGS, ...nodeArgs, join(ROOT, 'dist/daemon/main.cjs'), '--config', config];
}

/** LIBCAM_BENCH_NODE_ARGS: node flags a benchmark adds after libcamd's own, such as --cpu-prof or a V8 setting to compare. */
export function benchNodeArgs() {
  return (process.env.LIBCAM_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

/** The RTSP camera simulator (test/fixtures/rtsp-camera.py) with these arguments; resolves once it listens. */
export async function startCamera(args) {
  const proc = spawn('/usr/bin/python3', [join(ROOT, 'test/fixtures/rtsp-camera.py'), '--port', '0', '--audio', 'none', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((res) => createInterface({ input: proc.stdout }).once('line', res));
  return { proc, ...JSON.parse(line) };
}

/** tls.crt and tls.key in `dir`, for 127.0.0.1. */
export function selfSignedCert(dir) {
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl req: ${made.stderr}`);
}

/** Logs a staff account in to the live view on 127.0.0.1:port; the session cookie, or '' when refused. */
export function staffLogin(port, user, password) {
  const body = `user=${encodeURIComponent(user)}&password=${encodeURIComponent(password)}`;
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/login', rejectUnauthorized: false, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      resolve(res.statusCode === 303 ? String(res.headers['set-cookie'] ?? '').split(';')[0] : '');
    });
    req.on('error', () => resolve(''));
    req.end(body);
  });
}

/** `libcam ARGS` against the libcamd on `socket`, run to the end: {status, stdout, stderr}. */
export function libcam(socket, args, input, timeoutMs = 120_000) {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), '--socket', socket, ...args], { encoding: 'utf8', input, timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
