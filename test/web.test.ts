import { spawnSync } from 'node:child_process';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import t from 'tap';
import type { AuditEntryInfo } from '../src/protocol.js';
import { cli, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig, type RunningDaemon } from './helpers/daemon.js';

// The staff live view from outside: a real libcamd serving HTTPS with a certificate made by
// openssl, asked with Node's HTTPS client (from 127.0.0.1, and from 127.0.0.2 outside
// web.allow) and with Debian's Chromium.
const dir = shortDir(t);
const password = 'velvet parsnip obelisk tundra';
let daemon: RunningDaemon;
let port = 0;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function ask(method: string, path: string, opts: { cookie?: string; form?: Record<string, string>; from?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        rejectUnauthorized: false, // the box's own self-signed certificate
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: { ...opts.headers, ...(opts.cookie ? { Cookie: opts.cookie } : {}), ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const login = (user: string, pass: string, from?: string): Promise<Answer> => ask('POST', '/login', { form: { user, password: pass }, ...(from ? { from } : {}) });
const cookieFrom = (a: Answer): string => String(a.headers['set-cookie'] ?? '').split(';')[0] ?? '';
const audit = (action: string): AuditEntryInfo[] => JSON.parse(cli(['audit', 'list', '--action', action, '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];

t.before(async () => {
  port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt')], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl req: ${made.stderr}`);
  const configFile = writeConfig(dir, {
    cameras: [
      { name: 'lobby', source: { kind: 'test-pattern', width: 320, height: 240, fps: 10 } },
      { name: 'stacks', source: { kind: 'test-pattern', width: 320, height: 240, fps: 10 } },
    ],
    web: { listen: `127.0.0.1:${port}`, tls: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') }, allow: ['127.0.0.1/32', '127.0.0.4/30'] },
  });
  daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  const added = cli(['staff', 'add', 'circ-desk'], { socket: daemon.socket, input: `${password}\n${password}\n` });
  if (added.status !== 0) throw new Error(`staff add: ${added.stderr}`);
  cli(['pause', '--camera', 'stacks', '--reason', 'privacy', '--for', '1h'], { socket: daemon.socket });
});

t.test('an address outside web.allow gets a plain 403 before any page', async (t) => {
  for (const path of ['/', '/login', '/app.js', '/cameras.json']) {
    const refused = await ask('GET', path, { from: '127.0.0.2' });
    t.equal(refused.status, 403, `${path} from 127.0.0.2: 403`);
    t.equal(refused.body, '403 Forbidden\n', 'and no page');
  }
  t.match(daemon.stdout(), /refused an address outside web.allow/, 'each is logged');
  const page = await ask('GET', '/login');
  t.equal(page.status, 200, 'from 127.0.0.1 the login page is served');
  t.match(page.headers, {
    'strict-transport-security': /max-age=\d+/,
    'content-security-policy': /default-src 'none'; script-src 'self'/,
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  }, 'with strict security headers');
  t.notMatch(page.body, /https?:\/\//, 'and nothing from elsewhere');
});

t.test('without a session: no page, no camera, no recorded footage', async (t) => {
  const home = await ask('GET', '/');
  t.equal(home.status, 302, 'the grid redirects to the login');
  t.equal(home.headers.location, '/login');
  for (const [what, cookie] of [
    ['no cookie', undefined],
    ['a forged cookie', '__Host-libcam_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ] as const) {
    const cams = await ask('GET', '/cameras.json', cookie ? { cookie } : {});
    t.equal(cams.status, 401, `/cameras.json with ${what}: 401`);
    t.notMatch(cams.body, /lobby/, 'naming no camera');
  }
  const wrong = await login('circ-desk', 'not the password');
  t.equal(wrong.status, 401, 'a wrong password is refused');
  t.notOk(wrong.headers['set-cookie'], 'with no session');
  t.match(audit('web.login-failed').at(-1), { subject: 'circ-desk', details: { address: '127.0.0.1' } }, 'audited with the address');
});

t.test('logged in: the cameras and their states, no route to the store, logout', async (t) => {
  const ok = await login('circ-desk', password);
  t.equal(ok.status, 303, 'the right password logs in');
  t.match(String(ok.headers['set-cookie']), /^__Host-libcam_session=[\w-]{43}; HttpOnly; Secure; SameSite=Strict; Path=\//, 'the cookie is HttpOnly, Secure, SameSite=Strict');
  const cookie = cookieFrom(ok);
  const cams = await ask('GET', '/cameras.json', { cookie });
  t.equal(cams.status, 200);
  const tiles = JSON.parse(cams.body) as { name: string; state: string; pause: { reason: string } | null }[];
  t.same(tiles.map((c) => c.name), ['lobby', 'stacks'], 'every camera');
  t.match(tiles.find((c) => c.name === 'stacks'), { state: 'paused', pause: { reason: 'privacy' } }, 'the paused one with its reason');
  for (const path of ['/recordings', '/segments/lobby', '/clips/INC-20261129-001', '/still?camera=lobby&at=-1m', '/../store']) {
    t.equal((await ask('GET', path, { cookie })).status, 404, `${path}: nothing`);
  }
  t.match(audit('web.login').at(-1), { subject: 'circ-desk', details: { address: '127.0.0.1' } }, 'the login is audited');
  const out = await ask('POST', '/logout', { cookie });
  t.equal(out.status, 303, 'logout');
  t.equal((await ask('GET', '/cameras.json', { cookie })).status, 401, 'and the cookie opens nothing after it');
  t.match(audit('web.logout').at(-1), { subject: 'circ-desk' }, 'audited');
});

t.test('wrong passwords slow down; the right one still works after the wait', async (t) => {
  for (let i = 1; i <= 5; i++) t.equal((await login('circ-desk', `guess ${i}`)).status, 401, `wrong password ${i}`);
  const throttled = await login('circ-desk', password);
  t.equal(throttled.status, 429, 'right after five wrong ones, even the right password waits');
  const wait = Number(throttled.headers['retry-after']);
  t.ok(wait >= 1 && wait <= 30, `Retry-After ${wait} s`);
  await sleep(wait * 1000 + 200);
  t.equal((await login('circ-desk', password)).status, 303, 'after the wait the right password logs in');
});

t.test('guesses sent at once, from many addresses, or from another site do not get through or keep staff out', async (t) => {
  const together = await Promise.all(Array.from({ length: 10 }, (_, i) => login('circ-desk', `together ${i}`, '127.0.0.6')));
  const statuses = together.map((a) => a.status);
  t.ok(statuses.filter((s) => s === 401).length <= 2, `ten at once: at most two are checked (${statuses.join(' ')})`);
  t.ok(statuses.filter((s) => s === 429).length >= 8, 'the rest are told to wait');
  for (let i = 1; i <= 6; i++) await login('circ-desk', `from elsewhere ${i}`, '127.0.0.5');
  t.equal((await login('circ-desk', 'and again', '127.0.0.5')).status, 429, 'the guessing address waits');
  t.equal((await login('circ-desk', password)).status, 303, 'while the account still logs in from its own desk');
  for (const [what, headers] of [
    ['Origin of another site', { Origin: 'https://evil.example' }],
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
  ] as const) {
    const posted = await ask('POST', '/login', { form: { user: 'circ-desk', password }, headers });
    t.equal(posted.status, 403, `a login posted with ${what} is refused`);
  }
  const odd = await login('x\n\u001b[2K99  root  export.approve', 'whatever', '127.0.0.7');
  t.equal(odd.status, 401, 'a name no account can have is refused');
  t.match(audit('web.login-failed').at(-1), { subject: null, details: { name: 'not an account name' } }, 'and kept out of the audit subject');
  const listed = cli(['audit', 'list', '--action', 'web.login-failed'], { socket: daemon.socket }).stdout;
  t.notMatch(listed, /\u001b/, 'no escape sequence reaches the terminal');
});

t.test('removing the account ends its session at once', async (t) => {
  cli(['staff', 'add', 'back-office'], { socket: daemon.socket, input: `${password}\n${password}\n` });
  const cookie = cookieFrom(await login('back-office', password));
  t.equal((await ask('GET', '/cameras.json', { cookie })).status, 200, 'logged in');
  t.equal(cli(['staff', 'remove', 'back-office'], { socket: daemon.socket }).status, 0);
  t.equal((await ask('GET', '/cameras.json', { cookie })).status, 401, 'the session ended with the account');
});

t.test('in Chromium: log in, the grid shows every camera and the pause, log out', async (t) => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(`https://127.0.0.1:${port}/`)) outside.push(r.url());
  });
  await page.goto(`https://127.0.0.1:${port}/`);
  t.match(page.url(), /\/login$/, 'sent to the login page');
  await page.fill('input[name=user]', 'circ-desk');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('section.tile[data-camera=stacks]');
  t.same(await page.$$eval('section.tile h2', (hs) => hs.map((h) => h.textContent)), ['lobby', 'stacks'], 'a tile per camera');
  t.match(await page.textContent('section.tile[data-camera=stacks]'), /paused for privacy until \d\d:\d\d/, 'the paused camera says why and until when');
  const cookies = await context.cookies();
  t.match(cookies.find((c) => c.name === '__Host-libcam_session'), { httpOnly: true, secure: true, sameSite: 'Strict' }, "the browser holds the session cookie as it was set");
  await page.click('header button[type=submit]');
  await waitUntil('back at the login page', () => page.url().endsWith('/login'), 10_000);
  t.same(outside, [], 'nothing was fetched from anywhere else');
});
