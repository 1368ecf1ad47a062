import { execFile } from 'node:child_process';

/** How long a uid's name is remembered: accounts are renamed rarely, and never mid-request. */
const CACHE_MS = 5 * 60_000;

const names = new Map<number, { name: string; until: number }>();

/**
 * The name of the account with this uid, through NSS (`getent passwd`, so local and LDAP
 * accounts both work), as libcamd records it in the audit trail. A uid with no account is
 * written `uid:N`: the number still identifies it.
 */
export async function accountName(uid: number, now = Date.now()): Promise<string> {
  const cached = names.get(uid);
  if (cached && cached.until > now) return cached.name;
  const name = await new Promise<string>((resolve) => {
    execFile('getent', ['passwd', String(uid)], { timeout: 5000 }, (err, stdout) => {
      const first = stdout.split(':')[0];
      resolve(!err && first ? first : `uid:${uid}`);
    });
  });
  names.set(uid, { name, until: now + CACHE_MS });
  return name;
}
