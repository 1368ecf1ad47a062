import { execFileSync } from 'node:child_process';
import { LibcamError } from '../errors.js';

/** The numeric id of a group, through NSS (`getent`), so LDAP and local groups both work. */
export function gidOf(group: string): number {
  let line: string;
  try {
    line = execFileSync('getent', ['group', group], { encoding: 'utf8' });
  } catch {
    throw new LibcamError('invalid-config', `socket.group: group "${group}" does not exist; create it (groupadd --system ${group}) or name another`, {
      path: 'socket.group',
      value: group,
    });
  }
  const gid = Number(line.split(':')[2]);
  if (!Number.isInteger(gid)) throw new LibcamError('internal', `getent group ${group} gave an unreadable line`);
  return gid;
}
