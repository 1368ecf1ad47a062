import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { StatusResult } from '../src/protocol.js';
import { cli, jsonLines, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig } from './helpers/daemon.js';
import { recordings } from './helpers/footage.js';

// A real full disk: a 16 MB tmpfs mounted as the store. Where mounting is not permitted
// (no CAP_SYS_ADMIN), the test says so and skips.
const dir = shortDir(t);
const store = join(dir, 'store');
mkdirSync(store);
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', store], { encoding: 'utf8' });
if (mounted.status !== 0) {
  t.test('disk full while recording', { skip: `cannot mount a tmpfs here (${mounted.stderr.trim()}): this test needs root with CAP_SYS_ADMIN` }, () => undefined);
} else {
  t.teardown(() => {
    spawnSync('umount', ['-l', store]);
  });
  t.test('disk full while recording: guard prunes, held footage stays, error disk-full, resumes when space is back', async (t) => {
    const configFile = writeConfig(dir, {
      store: { path: store, segmentSeconds: 2 },
      retention: { maxAge: '30d', minFreeBytes: '11MB' },
      cameras: ['east', 'west'].map((name) => ({ name, source: { kind: 'test-pattern', width: 320, height: 240, fps: 10, pattern: 'snow' } })),
    });
    const daemon = spawnDaemon(t, dir, configFile);
    await waitForSocket(daemon.socket);
    const status = (): StatusResult => JSON.parse(cli(['status', '--json'], { socket: daemon.socket }).stdout) as StatusResult;

    await waitUntil('the guard pruned', () => jsonLines(daemon.stdout()).some((l) => l['msg'] === 'free space was under the reserve: pruned at once'), 60_000);
    t.pass('free space fell under the reserve and the guard pruned without cron');
    t.same(status().cameras.map((c) => c.state), ['recording', 'recording'], 'recording went on');

    // One camera is paused for privacy while the disk fills: when its pause ends, the full
    // disk must still keep it from recording.
    t.equal(cli(['pause', '--camera', 'east', '--reason', 'privacy', '--for', '10m'], { socket: daemon.socket }).status, 0);
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    for (const camera of ['east', 'west']) {
      t.equal(cli(['holds', 'place', '--camera', camera, '--from', from, '--to', to, '--reason', 'test: hold everything'], { socket: daemon.socket }).status, 0);
    }
    const heldFiles = ['east', 'west'].flatMap((c) => recordings(daemon.socket, c).segments.map((s) => s.file));

    await waitUntil('west stops with disk-full', () => status().cameras.find((c) => c.name === 'west')?.state === 'error', 60_000);
    const east = status().cameras.find((c) => c.name === 'east');
    t.equal(east?.state, 'paused', 'east shows its pause');
    t.same(east?.suspensions.map((s) => s.kind), ['pause', 'disk-full'], 'and lists the full disk as a second reason');
    t.equal(cli(['resume', '--camera', 'east'], { socket: daemon.socket }).status, 0, 'the pause ends while the disk is full');
    await sleep(3000); // more than one guard interval
    const full = status();
    for (const c of full.cameras) t.match(c, { state: 'error', reason: /^disk-full: .*nothing retention may delete is left/ }, `${c.name}: error disk-full, not recording`);
    t.ok(heldFiles.every((f) => existsSync(join(store, f))), `all ${heldFiles.length} held segments are still there`);
    const gaps = recordings(daemon.socket, 'east').gaps;
    t.ok(gaps.some((g) => g.cause === 'disk-full' && g.end === null), 'an open disk-full gap');

    const holds = JSON.parse(cli(['holds', 'list', '--json'], { socket: daemon.socket }).stdout) as { id: string }[];
    for (const h of holds) t.equal(cli(['holds', 'release', h.id], { socket: daemon.socket }).status, 0);
    await waitUntil('recording resumes by itself', () => status().cameras.every((c) => c.state === 'recording'), 60_000);
    t.pass('with the holds released the guard pruned and recording resumed by itself');
    const closed = recordings(daemon.socket, 'east').gaps.find((g) => g.cause === 'disk-full');
    t.ok(closed?.end, 'the disk-full gap is closed');
    daemon.proc.kill('SIGTERM');
    await daemon.exited;
  });
}
