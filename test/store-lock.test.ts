import * as fs from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { shortDir } from './helpers/daemon.js';

// A read-only store is simulated (the kernel's EROFS cannot be had without mounting): the
// lock's first write fails as it would there. The message must say so, not report a
// second failure to clean up a file that was never made.
function failingFs(errno: string): typeof fs {
  const err = Object.assign(new Error(`${errno}: simulated`), { code: errno });
  return {
    ...fs,
    writeFileSync: () => {
      throw err;
    },
  };
}

for (const [errno, words] of [
  ['EROFS', /mounted read-only \(EROFS\)/],
  ['ENOSPC', /full \(ENOSPC\)/],
] as const) {
  t.test(`a store where the lock cannot be written (${errno}) is refused with the reason`, async (t) => {
    const { StoreLock } = await t.mockImport<typeof import('../src/daemon/storeLock.js')>('../src/daemon/storeLock.js', { 'node:fs': failingFs(errno) });
    const store = join(shortDir(t), 'store');
    const lock = new StoreLock(store, '/run/x.sock');
    t.throws(() => lock.acquire(), { code: 'io', message: words });
    t.throws(() => lock.acquire(), { message: `cannot create the lock file ${join(store, '.libcamd.lock')}` });
    let message = '';
    try {
      lock.acquire();
    } catch (err) {
      message = err instanceof Error ? err.message : String(err);
    }
    t.notMatch(message, /unlink/, 'nothing about removing a file that was never made');
  });
}

t.test('the lock is taken, refused to a second owner while held, and released', async (t) => {
  const { StoreLock } = await import('../src/daemon/storeLock.js');
  const store = join(shortDir(t), 'store');
  const lock = new StoreLock(store, '/run/x.sock');
  lock.acquire();
  t.ok(fs.existsSync(join(store, '.libcamd.lock')));
  t.same(fs.readdirSync(store), ['.libcamd.lock'], 'no aside file left');
  lock.release();
  t.notOk(fs.existsSync(join(store, '.libcamd.lock')));
});
