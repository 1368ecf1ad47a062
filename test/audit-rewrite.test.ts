import { spawnSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { AuditVerifyResult, StatusResult } from '../src/protocol.js';
import { entryHash, type AuditEntry } from '../src/store/audit.js';
import { IndexDb } from '../src/store/indexDb.js';
import { cli, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig } from './helpers/daemon.js';
import { recordings } from './helpers/footage.js';
import { SmtpSink } from './helpers/smtpSink.js';

// The attacks of issue 10, made with the daemon stopped by a script that opens the index
// and uses the project's own entry hash to re-seal what it changed: without the appliance
// key, and then as root with it. Each is shown to fail, with and without an anchor copied
// from a Director notice, as applies.
const dir = shortDir(t);
const relay = new SmtpSink();
const key = (seq: number): string => String(seq).padStart(15, '0');
let configFile = '';
let anchor = ''; // from the Director's mail about a still

function copy(from: string, to: string): void {
  spawnSync('rm', ['-rf', to]);
  const r = spawnSync('cp', ['-a', from, to]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
}
const snapshot = (): void => ['index', 'keys'].forEach((d) => copy(join(dir, d), join(dir, `${d}.pristine`)));
const restore = (): void => ['index', 'keys'].forEach((d) => copy(join(dir, `${d}.pristine`), join(dir, d)));

async function verify(anchors: string[] = []): Promise<{ status: number | null; verdict: AuditVerifyResult }> {
  const daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  const r = cli(['audit', 'verify', '--json', ...anchors.flatMap((a) => ['--anchor', a])], { socket: daemon.socket });
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
  return { status: r.status, verdict: JSON.parse(r.stdout) as AuditVerifyResult };
}

/** Opens the index as an attacker with the disk in hand would, and hands over the trail. */
async function tamper(fn: (entries: AuditEntry[]) => AuditEntry[]): Promise<void> {
  const index = new IndexDb(join(dir, 'index'));
  await index.start();
  const trail = index.db.sublevel<string, AuditEntry>('audit', { valueEncoding: 'json' });
  const head = index.db.sublevel<string, { seq: number; hash: string }>('audit-head', { valueEncoding: 'json' });
  const before = await trail.values().all();
  const after = fn(before);
  await trail.clear();
  for (const e of after) await trail.put(key(e.seq), e);
  const last = after.at(-1);
  if (last) await head.put('head', { seq: last.seq, hash: last.hash });
  else await head.clear();
  await index.stop();
}

/** Renumbers and re-chains entries with the project's own hash, signing with `privateKeyPem` if given. */
function reseal(entries: AuditEntry[], privateKeyPem?: string): AuditEntry[] {
  let prev: string | null = null;
  return entries.map((e, i) => {
    const { hash: _resealed, sig, ...rest } = e;
    const body = { ...rest, seq: i + 1, prev };
    const hash = entryHash(body);
    prev = hash;
    const newSig = privateKeyPem ? sign(null, Buffer.from(hash), createPrivateKey(privateKeyPem)).toString('base64') : sig;
    return { ...body, hash, ...(newSig === undefined ? {} : { sig: newSig }) };
  });
}

/** The rewrite of the issue: entries 9-11 gone, entry 4's actor and note changed. */
function rewrite(entries: AuditEntry[], privateKeyPem?: string): AuditEntry[] {
  const kept = entries.filter((e) => e.seq < 9 || e.seq > 11);
  const changed = kept.map((e) => (e.seq === 4 ? { ...e, actor: { user: 'director', uid: 0 }, details: { ...e.details, reason: 'routine check' } } : e));
  return reseal(changed, privateKeyPem);
}

t.before(async () => {
  await relay.start();
  configFile = writeConfig(dir, {
    cameras: [{ name: 'lobby', source: { kind: 'test-pattern', width: 160, height: 120, fps: 10 } }],
    notify: { director: { email: 'director@library.example' }, smtp: { host: '127.0.0.1', port: relay.port, from: 'libcam@library.example' } },
  });
  const daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  await waitUntil('lobby records', () => recordings(daemon.socket, 'lobby').segments.length >= 2);
  for (let i = 0; i < 4; i++) {
    const placed = JSON.parse(cli(['holds', 'place', '--camera', 'lobby', '--from', '-1h', '--to', 'now', '--reason', `hold ${i}`, '--json'], { socket: daemon.socket }).stdout) as { id: string };
    cli(['holds', 'release', placed.id], { socket: daemon.socket });
  }
  t.equal(cli(['still', '--camera', 'lobby', '--at', '-3s', '--purpose', 'security-risk', '--requested-by', 'Pat', '--out', join(dir, 's.jpg')], { socket: daemon.socket }).status, 0);
  await waitUntil('the Director is told', () => relay.received.length === 1);
  anchor = /Audit head:\s+(\d+:[0-9a-f]{64})/.exec(relay.received[0]?.text ?? '')?.[1] ?? '';
  const status = JSON.parse(cli(['status', '--json'], { socket: daemon.socket }).stdout) as StatusResult;
  t.match(status.appliance, { fingerprint: /^SHA256:[0-9a-f]{64}$/, publicKeyPem: /BEGIN PUBLIC KEY/ }, 'status shows the appliance key');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
  snapshot();
});
t.teardown(() => relay.stop());

t.test('untouched, the trail verifies, also against the anchor mailed with a notice', async (t) => {
  t.match(anchor, /^\d+:[0-9a-f]{64}$/, 'the Director notice carries the chain head');
  const { status, verdict } = await verify([anchor]);
  t.equal(status, 0);
  t.match(verdict, { ok: true, anchors: 1, unsigned: 0 });
  t.ok(verdict.entries >= 14, `${verdict.entries} entries`);
});

t.test('a rewrite re-sealed without the key (9-11 deleted, 4 changed, chain and head recomputed) is caught', async (t) => {
  restore();
  await tamper((entries) => rewrite(entries));
  const { status, verdict } = await verify();
  t.equal(status, 1, 'exit 1');
  t.match(verdict, { ok: false, brokenAt: 4, problem: /entry 4 is not signed by this appliance's key/ });
});

t.test('the tail cut off (head moved back) is caught without an anchor, and with one', async (t) => {
  restore();
  await tamper((entries) => entries.slice(0, -3));
  // libcamd starts on the shortened trail and writes on: what it found beside its key (the
  // signed head) is in its daemon.start entry, signed, and verify reads it there.
  const without = await verify();
  t.match(without.verdict, { ok: false, problem: /when libcamd started \(entry \d+\) the trail had reached entry \d+ before; entries up to \d+ were removed while it was down/ });
  restore();
  await tamper((entries) => entries.filter((e) => e.seq < Number(anchor.split(':')[0])));
  const withAnchor = await verify([anchor]);
  t.match(withAnchor.verdict.problems, [/the trail had reached entry/, /anchor \d+: entry \d+ now has hash [0-9a-f]{12}…, not the [0-9a-f]{12}… that was mailed/], 'and the mailed anchor no longer matches');
});

t.test('the whole trail deleted is caught', async (t) => {
  restore();
  await tamper(() => []);
  const { status, verdict } = await verify([anchor]);
  t.equal(status, 1);
  t.match(verdict.problems, [/when libcamd started \(entry 1\) the trail had reached entry \d+ before/, /anchor \d+:[0-9a-f]{12}… is gone/]);
});

t.test('root with the key re-signs a rewrite: only an anchor mailed before can tell, and does', async (t) => {
  restore();
  const pem = readFileSync(join(dir, 'keys', 'appliance.key'), 'utf8');
  let last: AuditEntry | undefined;
  await tamper((entries) => {
    const out = rewrite(entries, pem);
    last = out.at(-1);
    return out;
  });
  if (!last) throw new Error('nothing rewritten');
  const headSig = sign(null, Buffer.from(`libcam audit head ${last.seq} ${last.hash}`), createPrivateKey(pem)).toString('base64');
  writeFileSync(join(dir, 'keys', 'audit-head.json'), JSON.stringify({ seq: last.seq, hash: last.hash, sig: headSig }));
  const blind = await verify();
  t.equal(blind.verdict.ok, true, 'without an anchor the re-signed rewrite holds together (this is what anchors are for)');
  const { status, verdict } = await verify([anchor]);
  t.equal(status, 1, 'with the anchor from the Director notice: exit 1');
  t.match(verdict.problems, [/anchor \d+: entry \d+ now has hash [0-9a-f]{12}…, not the [0-9a-f]{12}… that was mailed: the trail was rewritten|anchor .* is gone/]);
});
