import t from 'tap';
import { join } from 'node:path';
import type { AuditEntryInfo, AuditVerifyResult } from '../src/protocol.js';
import type { AuditEntry } from '../src/store/audit.js';
import { IndexDb } from '../src/store/indexDb.js';
import { cli, shortDir, spawnDaemon, waitForSocket, writeConfig } from './helpers/daemon.js';

// A real daemon writes the trail; the test then edits, deletes and swaps entries
// directly in LevelDB (the daemon stopped, as someone with the disk in hand would).
const dir = shortDir(t);
const configFile = writeConfig(dir, { cameras: [{ name: 'lobby', enabled: false, source: { kind: 'test-pattern' } }] });

async function run<T>(args: string[]): Promise<{ status: number | null; json: T; stderr: string }> {
  const daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  const r = cli([...args, '--json'], { socket: daemon.socket });
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
  return { status: r.status, json: JSON.parse(r.stdout) as T, stderr: r.stderr };
}

function auditOf(index: IndexDb) {
  return index.db.sublevel<string, AuditEntry>('audit', { valueEncoding: 'json' });
}

async function tamper(fn: (trail: ReturnType<typeof auditOf>) => Promise<void>): Promise<void> {
  const index = new IndexDb(join(dir, 'index'));
  await index.start();
  await fn(auditOf(index));
  await index.stop();
}

t.test('the daemon records what happens, with the OS account of whoever asked', async (t) => {
  const daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  const placed = JSON.parse(
    cli(['holds', 'place', '--camera', 'lobby', '--from', '-1h', '--to', new Date(Date.now() + 3_600_000).toISOString(), '--reason', 'audit test', '--json'], { socket: daemon.socket }).stdout,
  ) as { id: string };
  t.equal(cli(['holds', 'release', placed.id], { socket: daemon.socket }).status, 0);
  const entries = JSON.parse(cli(['audit', 'list', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];
  t.same(
    entries.map((e) => e.action),
    ['daemon.start', 'config.loaded', 'hold.place', 'hold.release'],
  );
  t.same(entries.map((e) => e.seq), [1, 2, 3, 4], 'numbered from 1 without holes');
  t.match(entries[2], { actor: { user: /\S/, uid: process.getuid?.() }, subject: 'lobby', details: { reason: 'audit test' } }, 'the CLI user is the actor');
  t.match(entries[0], { actor: { user: 'libcamd', uid: null } });
  const filtered = JSON.parse(cli(['audit', 'list', '--action', 'hold.place', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];
  t.equal(filtered.length, 1, '--action filters');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
  const ok = await run<AuditVerifyResult>(['audit', 'verify']);
  t.equal(ok.status, 0);
  t.match(ok.json, { ok: true, entries: 7, brokenAt: null }, 'untouched: intact (a stop and a start were added)');
});

t.test('an edited entry is named', async (t) => {
  let saved: AuditEntry | undefined;
  await tamper(async (trail) => {
    saved = await trail.get('000000000000003');
    if (saved) await trail.put('000000000000003', { ...saved, details: { ...saved.details, reason: 'nothing to see' } });
  });
  const r = await run<AuditVerifyResult>(['audit', 'verify']);
  t.equal(r.status, 1, 'exit 1');
  t.match(r.json, { ok: false, brokenAt: 3, problem: /changed/ });
  await tamper(async (trail) => {
    if (saved) await trail.put('000000000000003', saved);
  });
});

t.test('a deleted entry is named', async (t) => {
  let saved: AuditEntry | undefined;
  await tamper(async (trail) => {
    saved = await trail.get('000000000000004');
    await trail.del('000000000000004');
  });
  const r = await run<AuditVerifyResult>(['audit', 'verify']);
  t.match(r.json, { ok: false, brokenAt: 4, problem: /missing|removed/ });
  await tamper(async (trail) => {
    if (saved) await trail.put('000000000000004', saved);
  });
});

t.test('two swapped entries are named', async (t) => {
  await tamper(async (trail) => {
    const a = await trail.get('000000000000002');
    const b = await trail.get('000000000000003');
    if (a && b) {
      await trail.put('000000000000002', b);
      await trail.put('000000000000003', a);
    }
  });
  const r = await run<AuditVerifyResult>(['audit', 'verify']);
  t.match(r.json, { ok: false, brokenAt: 2, problem: /moved/ });
});

t.test('a value that is not an audit entry is named, and the rest can still be read', async (t) => {
  // Found from outside: one non-JSON value made list and verify fail outright.
  const index = new IndexDb(join(dir, 'index'));
  await index.start();
  const raw = index.db.sublevel<string, string>('audit', { valueEncoding: 'utf8' });
  await raw.put('000000000000002', 'this is not JSON');
  await raw.put('000000000000003', JSON.stringify({ seq: 3, at: '2026-11-29T00:00:00Z', actor: 'root', action: 'daemon.start', details: null, hash: 'x' }));
  await index.stop();
  const verdict = await run<AuditVerifyResult>(['audit', 'verify']);
  t.equal(verdict.status, 1);
  t.match(verdict.json.problems, [/entry stored as 2 cannot be read as an audit entry/, /entry stored as 3 cannot be read/]);
  const listed = await run<AuditEntryInfo[]>(['audit', 'list']);
  t.equal(listed.status, 0, 'list still works');
  t.match(listed.json.find((e) => e.seq === 2), { action: 'damaged' }, 'showing the damaged entry as such');
  t.ok(listed.json.length > 5, 'and every other entry');
});
