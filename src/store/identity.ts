import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LibcamError, errnoOf } from '../errors.js';
import { fsyncPath } from './fsync.js';
import type { IndexDb } from './indexDb.js';

export const IDENTITY_FILE = '.libcam-store.json';

interface Identity {
  storeId: string;
  created: string;
}

async function readIdentity(storePath: string): Promise<Identity | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(storePath, IDENTITY_FILE), 'utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'storeId' in parsed && typeof parsed.storeId === 'string') {
      return { storeId: parsed.storeId, created: 'created' in parsed && typeof parsed.created === 'string' ? parsed.created : '' };
    }
    throw new LibcamError('conflict', `${join(storePath, IDENTITY_FILE)} is not a libcam store identity file`);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * For `libcam doctor`, reading only: whether the store folder is the one the index was made
 * for. Undefined when it is; otherwise what is wrong.
 */
export async function storeIdentityProblem(index: IndexDb, storePath: string): Promise<string | undefined> {
  const meta = index.db.sublevel<string, string>('meta', { valueEncoding: 'json' });
  const expected = await meta.get('storeId');
  let found: Identity | undefined;
  try {
    found = await readIdentity(storePath);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  if (found === undefined) return `${join(storePath, IDENTITY_FILE)} is missing: is the store's disk mounted?`;
  if (found.storeId !== expected) return `${storePath} is store ${found.storeId}, but the index belongs to store ${expected ?? '(none)'}: a different disk is mounted there`;
  return undefined;
}

/**
 * Binds the store directory to the index (docs/design.md, invariant 7). The first
 * start writes the same id into `<store>/.libcam-store.json` and the index. Later starts
 * refuse to record when the store has no identity file (its disk is not mounted: the
 * folder is the empty mount point on the root filesystem) or another one (a different
 * store's disk), instead of filling the wrong filesystem.
 */
export async function checkStoreIdentity(index: IndexDb, storePath: string): Promise<string> {
  const meta = index.db.sublevel<string, string>('meta', { valueEncoding: 'json' });
  const expected = await meta.get('storeId');
  const found = await readIdentity(storePath);
  if (expected === undefined && found === undefined) {
    const identity: Identity = { storeId: randomUUID(), created: new Date().toISOString() };
    const file = join(storePath, IDENTITY_FILE);
    await writeFile(file, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
    await fsyncPath(file);
    await fsyncPath(storePath);
    await index.db.batch([{ type: 'put', sublevel: meta, key: 'storeId', value: identity.storeId }], { sync: true });
    return identity.storeId;
  }
  if (expected === undefined && found) {
    throw new LibcamError(
      'conflict',
      `store ${storePath} belongs to another index (store id ${found.storeId}), and the index ${index.path} is new: point index.path at that store's index, or use an empty store folder`,
      { store: storePath, storeId: found.storeId },
    );
  }
  if (found === undefined) {
    let entries: string[] = [];
    try {
      entries = (await readdir(storePath)).filter((name) => name !== '.libcamd.lock');
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
    const why = entries.length === 0 ? 'the folder is empty' : `it has ${entries.length} entries but no ${IDENTITY_FILE}`;
    throw new LibcamError(
      'conflict',
      `refusing to record into ${storePath}: ${why}, but the index ${index.path} belongs to store ${expected ?? '?'}. Is the store's disk mounted?`,
      { store: storePath, storeId: expected },
    );
  }
  if (found.storeId !== expected) {
    throw new LibcamError(
      'conflict',
      `refusing to record into ${storePath}: it is store ${found.storeId}, but the index ${index.path} belongs to store ${expected ?? '?'}: a different disk is mounted there`,
      { store: storePath, storeId: found.storeId, expected },
    );
  }
  return found.storeId;
}
