import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
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
    'UMask=0027',
  ]) {
    has(line);
  }
  t.match(unit, /^ReadWritePaths=.+$/m);
  t.match(unit, /^RestrictAddressFamilies=.+$/m);
  t.match(unit, /^RequiresMountsFor=.+$/m);
  t.notMatch(unit, /^MemoryDenyWriteExecute=/m, 'V8 needs W+X memory');
});

t.test('the prune timer runs daily and the cron line does the same', async (t) => {
  t.match(readFileSync(units[2] ?? '', 'utf8'), /^OnCalendar=daily$/m);
  t.match(readFileSync(join(ROOT, 'config', 'libcam-prune.cron'), 'utf8'), /^\S+ \S+ \* \* \* libcam \S*libcam prune/m);
});
