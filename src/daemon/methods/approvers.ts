import { iso } from '../../clock.js';
import type { Approver, Approvers, PassphraseApproval } from '../../evidence/approvers.js';
import { LibcamError } from '../../errors.js';
import type { ApproverInfo, PassphraseGiven } from '../../protocol.js';
import { auditActor } from '../../store/audit.js';
import type { Handlers } from '../dispatcher.js';
import type { MethodDeps } from './context.js';
import { auditRefusal } from './refusals.js';

export function approverInfo(a: Approver, now: number): ApproverInfo {
  return {
    role: a.role,
    name: a.name,
    keyId: a.fingerprint,
    custody: a.custody,
    publicKeyPem: a.publicKeyPem,
    enrolled: iso(a.enrolled),
    revoked: a.revoked === null ? null : iso(a.revoked),
    lockedUntil: a.lockedUntil > now ? iso(a.lockedUntil) : null,
    approvedBy: a.approvedBy.map((b) => ({ role: b.role, keyId: b.fingerprint })),
  };
}

/**
 * The full fingerprint a key id names: the whole of it, or a unique prefix of its hex digits
 * (as people read them off paper), with or without `SHA256:`.
 */
export async function resolveKeyId(approvers: Approvers, keyId: string, flag: string): Promise<string> {
  const hex = keyId.replace(/^SHA256:/, '');
  const matches = (await approvers.list()).filter((a) => a.fingerprint.slice('SHA256:'.length).startsWith(hex));
  const [only, second] = matches;
  if (!only) throw new LibcamError('not-found', `${flag}: no approver's key is ${keyId} (libcam approvers list)`, { flag, keyId });
  if (second) throw new LibcamError('usage', `${flag}: ${keyId} is the start of ${matches.length} keys; give more of it`, { flag, keyId });
  return only.fingerprint;
}

export async function passphraseApprovals(approvers: Approvers, given: readonly PassphraseGiven[] | undefined): Promise<PassphraseApproval[]> {
  return Promise.all(
    (given ?? []).map(async (g) => ({ role: g.role, passphrase: g.passphrase, fingerprint: g.keyId === undefined ? undefined : await resolveKeyId(approvers, g.keyId, '--approver') })),
  );
}

/** `libcam approvers` (policy §3): who may approve a release, and changes to that under dual control. */
export function approversMethods(d: MethodDeps): Pick<Handlers, 'approvers.list' | 'approvers.enroll' | 'approvers.revoke'> {
  return {
    'approvers.list': async () => {
      const now = d.clock.now();
      return (await d.approvers.list()).sort((a, b) => a.enrolled - b.enrolled).map((a) => approverInfo(a, now));
    },
    'approvers.enroll': async (p, ctx) => {
      const actor = auditActor(ctx.caller);
      const details = { step: 'enroll', role: p.role, name: p.name, approvers: (p.approvals ?? []).map((a) => a.role) };
      const approver = await auditRefusal(d, { actor, action: 'approver.refused', subject: p.role, details }, async () => {
        if ((p.passphrase === undefined) === (p.publicKeyPem === undefined)) {
          throw new LibcamError('usage', 'either a passphrase for a key made here, or --public-key FILE for a key the approver made', { flag: '--public-key' });
        }
        const approvals = await passphraseApprovals(d.approvers, p.approvals);
        return d.approvers.enroll({ role: p.role, name: p.name.trim(), passphrase: p.passphrase, publicKeyPem: p.publicKeyPem }, approvals, actor);
      });
      return approverInfo(approver, d.clock.now());
    },
    'approvers.revoke': async (p, ctx) => {
      const actor = auditActor(ctx.caller);
      const details = { step: 'revoke', approvers: (p.approvals ?? []).map((a) => a.role) };
      const approver = await auditRefusal(d, { actor, action: 'approver.refused', subject: p.keyId, details }, async () => {
        const fingerprint = await resolveKeyId(d.approvers, p.keyId, 'KEYID');
        return d.approvers.revoke(fingerprint, await passphraseApprovals(d.approvers, p.approvals), actor);
      });
      return approverInfo(approver, d.clock.now());
    },
  };
}
