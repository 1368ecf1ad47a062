import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DAEMON_NODE_FLAGS } from '../src/daemon/nodeFlags.js';
import { ROOT, hasCommand } from './helpers/daemon.js';

const units = ['libcamd.service', 'libcam-prune.service', 'libcam-prune.timer'].map((u) => join(ROOT, 'systemd', u));

t.test('systemd-analyze verify finds nothing to object to', { skip: !hasCommand('systemd-analyze') && 'systemd-analyze is not installed' }, async (t) => {
  const r = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr.trim(), '', 'no warnings either');
});

t.test('libcamd.service is a hardened notify service', async (t) => {
  const unit = readFileSync(units[0] ?? '', 'utf8');
  const has = (line: string): void => {
    t.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
  };
  for (const line of [
    'Type=notify',
    'User=libcam',
    'RuntimeDirectory=libcam',
    'StateDirectory=libcam',
    'WatchdogSec=30',
    'Restart=on-failure',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'NoNewPrivileges=yes',
    'CapabilityBoundingSet=',
    'SystemCallArchitectures=native',
    'UMask=0077',
    'StateDirectoryMode=0700',
    'Group=libcam',
    'SupplementaryGroups=libcam-staff',
    'SystemCallFilter=@system-service',
    'ProtectProc=invisible',
    'ProcSubset=pid',
    'RemoveIPC=yes',
    'PrivateMounts=yes',
  ]) {
    has(line);
  }
  t.match(unit, /^ReadWritePaths=.+$/m);
  t.match(unit, /^RestrictAddressFamilies=.+$/m);
  t.match(unit, /^RequiresMountsFor=.+$/m);
  t.notMatch(unit, /^MemoryDenyWriteExecute=/m, 'V8 needs W+X memory');
  t.notMatch(unit, /^PrivateUsers=yes/m, 'no user namespace: SO_PEERCRED would read every staff member as nobody');
  t.match(unit, /^MemoryMax=\S+$/m);
  t.match(unit, /^TasksMax=\d+$/m);
});

t.test('systemd-analyze security scores both services at 2.5 or better', { skip: !hasCommand('systemd-analyze') && 'systemd-analyze is not installed' }, async (t) => {
  for (const unit of units.slice(0, 2)) {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', unit], { encoding: 'utf8' });
    const score = Number(/Overall exposure level for \S+: ([0-9.]+)/.exec(r.stdout)?.[1]);
    t.ok(score <= 2.5, `${unit.split('/').pop() ?? unit}: exposure ${score}`);
  }
});

t.test('the prune service reaches the socket and nothing else', async (t) => {
  const unit = readFileSync(units[1] ?? '', 'utf8');
  for (const line of ['PrivateNetwork=yes', 'RestrictAddressFamilies=AF_UNIX', 'IPAddressDeny=any', 'UMask=0077']) t.match(unit, new RegExp(`^${line}$`, 'm'), line);
  t.match(unit, /^InaccessiblePaths=.*\/srv\/libcam.*\/var\/lib\/libcam/m, 'no access to the store, index or keys');
});

t.test('the prune timer runs daily and the cron line does the same', async (t) => {
  t.match(readFileSync(units[2] ?? '', 'utf8'), /^OnCalendar=daily$/m);
  t.match(readFileSync(join(ROOT, 'config', 'libcam-prune.cron'), 'utf8'), /^\S+ \S+ \* \* \* libcam \S*libcam prune/m);
});

t.test('libcamd runs under its own V8 flags from the unit, the demo and its own first line', async (t) => {
  // V8 takes them only as the process starts (src/daemon/nodeFlags.ts): a start that drops
  // them brings back the garbage-collection stalls of the index queries.
  const started = [
    ['systemd/libcamd.service', /^ExecStart=\/usr\/bin\/node (.*) \S*dist\/daemon\/main\.cjs /m],
    ['scripts/demo', /^exec node (.*) dist\/daemon\/main\.cjs /m],
    // `libcamd` as npm installs it (package.json "bin") runs the entry's first line.
    ['src/daemon/main.cts', /^#!\/usr\/bin\/env -S node (.*)$/m],
  ] as const;
  for (const [file, line] of started) {
    const flags = line.exec(readFileSync(join(ROOT, file), 'utf8'))?.[1]?.split(' ') ?? [];
    for (const flag of DAEMON_NODE_FLAGS) t.ok(flags.includes(flag), `${file} starts node with ${flag}`);
  }
});
