import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LibcamError, errnoOf } from '../errors.js';
import { fsyncPath } from '../store/fsync.js';

const PRIVATE = 'appliance.key';
const PUBLIC = 'appliance.pub';

/** The fingerprint people compare: SHA-256 over the public key's DER (SPKI), hex. */
export function fingerprintOf(publicKey: KeyObject): string {
  return `SHA256:${createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/**
 * The appliance's own Ed25519 key: it signs every audit entry (and, later, export bundles).
 * It lives outside the index, in `keys.path`, readable by libcamd alone; the first start
 * makes it. Someone who can rewrite the index but not read this file cannot re-sign what
 * they rewrite.
 */
export class ApplianceKey {
  readonly fingerprint: string;
  readonly publicKeyPem: string;

  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
    readonly dir: string,
  ) {
    this.fingerprint = fingerprintOf(publicKey);
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** Opens the key in `dir`, making it on first use; refuses one that others can read. */
  static async open(dir: string): Promise<ApplianceKey> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, PRIVATE);
    let pem: string;
    try {
      const handle = await open(file, 'r');
      try {
        const st = await handle.stat();
        if ((st.mode & 0o077) !== 0) {
          throw new LibcamError('conflict', `the appliance key ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it (and consider it exposed)`, { file });
        }
        pem = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      return ApplianceKey.create(dir);
    }
    const privateKey = createPrivateKey(pem);
    return new ApplianceKey(privateKey, createPublicKey(privateKey), dir);
  }

  private static async create(dir: string): Promise<ApplianceKey> {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const aside = join(dir, `${PRIVATE}.new`);
    await writeFile(aside, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' }).catch(async (err: unknown) => {
      if (errnoOf(err) !== 'EEXIST') throw err;
      await writeFile(aside, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    });
    await fsyncPath(aside);
    await rename(aside, join(dir, PRIVATE));
    await writeFile(join(dir, PUBLIC), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
    await fsyncPath(dir);
    return new ApplianceKey(privateKey, publicKey, dir);
  }

  /** An Ed25519 signature of `data`, base64. */
  sign(data: string): string {
    return sign(null, Buffer.from(data, 'utf8'), this.privateKey).toString('base64');
  }

  /** Whether `signature` (base64) is this key's over `data`. */
  verify(data: string, signature: string): boolean {
    try {
      return verify(null, Buffer.from(data, 'utf8'), this.publicKey, Buffer.from(signature, 'base64'));
    } catch {
      return false;
    }
  }
}
