import { spawnSync } from 'node:child_process';
import t from 'tap';
import { ROOT } from './helpers/daemon.js';

// The suite includes the type checker and the linter, so CI fails on either.
t.test('tsc --noEmit finds no type errors', async (t) => {
  const r = spawnSync('npx', ['--no-install', 'tsc', '--noEmit', '-p', '.'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, r.stdout + r.stderr);
});

t.test('eslint (floating promises, exhaustive switches, no any) finds nothing', async (t) => {
  const r = spawnSync('npx', ['--no-install', 'eslint', '--max-warnings', '0', '.'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, r.stdout + r.stderr);
});
