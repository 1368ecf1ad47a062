import { LibcamError } from '../errors.js';
import { isRole, ROLES, type Role } from '../evidence/policy.js';
import type { PassphraseGiven } from '../protocol.js';
import { readSecret } from './prompt.js';

/** `--approver ROLE` or `--approver ROLE=KEYID` (where several approvers hold the role). */
export interface ApproverFlag {
  role: Role;
  keyId?: string;
}

/** A key id as people copy it: with or without SHA256:, any case. */
export const normalizeKeyId = (keyId: string): string => keyId.trim().replace(/^sha256:/i, '').toLowerCase();

export function parseApprover(value: string): ApproverFlag {
  const [role = '', raw] = value.split('=', 2);
  const keyId = raw === undefined ? undefined : normalizeKeyId(raw);
  if (!isRole(role)) throw new LibcamError('usage', `--approver: "${value}" is not a role (${ROLES.join(', ')}), or ROLE=KEYID`, { flag: '--approver' });
  return keyId === undefined || keyId === '' ? { role } : { role, keyId };
}

/** The passphrases of the approvers named, asked in turn (no echo on a terminal). */
export async function askPassphrases(approvers: readonly ApproverFlag[], why: string): Promise<PassphraseGiven[]> {
  const given: PassphraseGiven[] = [];
  for (const a of approvers) {
    const passphrase = await readSecret(`Passphrase of the ${a.role}${a.keyId ? ` (${a.keyId})` : ''}, to approve ${why}: `);
    given.push({ ...a, passphrase });
  }
  return given;
}

/** The role and key of a flag, for a request: keyId only when given. */
export const approverParam = (a: ApproverFlag): { role: Role; keyId?: string } => (a.keyId === undefined ? { role: a.role } : { role: a.role, keyId: a.keyId });
