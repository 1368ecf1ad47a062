import { open } from 'node:fs/promises';
import { LibcamError, errnoOf } from '../errors.js';
import { hasAccessAcl } from '../os/libc.js';

export interface Credentials {
  user: string;
  password: string;
}

/** The owner, group and mode of a file, as fstat gives them. */
export interface FileAccess {
  uid: number;
  gid: number;
  mode: number;
}

/**
 * Who besides root and libcamd could read a credentials file, in words, or undefined when
 * nobody can: the file must belong to root or to libcamd's own user, be unreadable by
 * others, and readable by its group only when that group is libcamd's own (whose only
 * member is libcamd: staff are in another group).
 */
export function credentialsExposure(file: string, st: FileAccess, me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }): string | undefined {
  const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
  if ((st.mode & 0o007) !== 0) return `${file} is readable by others (mode ${mode}); run chmod 600 ${file}`;
  if (st.uid !== 0 && st.uid !== me.uid) return `${file} belongs to uid ${st.uid}, who can read it; it must belong to root or to libcamd's user`;
  if ((st.mode & 0o070) !== 0 && st.gid !== me.gid) {
    return `${file} is readable by group ${st.gid} (mode ${mode}), which is not libcamd's own group; chown root:<libcamd's group> and chmod 640, or chmod 600`;
  }
  return undefined;
}

/** A credentials file with an access control list: who may read it is not what its mode says. */
export function aclExposure(file: string, fd: number): string | undefined {
  return hasAccessAcl(fd) ? `${file} has an access control list that may let other accounts read it (getfacl ${file}); remove it with setfacl -b ${file}` : undefined;
}

/**
 * `user:password` on the first line, split at the first colon; read on every connect so a
 * new password needs no restart, and refused on every read if anyone but root and libcamd
 * could read it (the file's owner, group and mode are taken from the open file itself).
 */
export async function readCredentials(file: string): Promise<Credentials> {
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      const exposure = aclExposure(file, handle.fd) ?? credentialsExposure(file, await handle.stat());
      if (exposure) throw new LibcamError('invalid-config', `refusing the credentials file: ${exposure}`, { file });
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof LibcamError) throw err;
    throw new LibcamError('io', `cannot read the credentials file ${file} (${errnoOf(err) ?? 'error'})`, { file });
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  const colon = line.indexOf(':');
  if (colon < 1) throw new LibcamError('invalid-config', `credentials file ${file} must hold user:password on its first line`, { file });
  return { user: line.slice(0, colon), password: line.slice(colon + 1) };
}
