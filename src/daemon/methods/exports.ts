import { iso } from '../../clock.js';
import type { ExportRequest } from '../../evidence/exports.js';
import { LibcamError } from '../../errors.js';
import type { ExportInfo } from '../../protocol.js';
import { auditActor, type AuditActor } from '../../store/audit.js';
import type { Handlers } from '../dispatcher.js';
import { Streamed } from '../streamed.js';
import { resolveKeyId } from './approvers.js';
import type { MethodDeps } from './context.js';
import { auditRefusal } from './refusals.js';

export function exportInfo(r: ExportRequest, custody: (fingerprint: string) => 'box' | 'own', withManifest: boolean): ExportInfo {
  return {
    request: r.id,
    incident: r.incident,
    state: r.state,
    created: iso(r.created),
    expires: iso(r.expires),
    manifestSha256: r.manifestSha256,
    legalBasis: r.legalBasis,
    approvers: r.approvers.map((a) => ({ role: a.role, name: a.name, keyId: a.fingerprint, custody: custody(a.fingerprint) })),
    approvals: r.approvals.map((a) => ({ role: a.role, name: a.name, keyId: a.fingerprint, at: iso(a.at), account: a.by })),
    ...(withManifest ? { manifest: r.manifest } : {}),
  };
}

/** An Ed25519 signature is 64 bytes. */
const SIGNATURE_BYTES = 64;

/**
 * `libcam export`, `libcam approve` (policy §3, §5). Every refusal of a request, an
 * approval or a completion is audited with its reason, as the export itself is.
 */
export function exportsMethods(d: MethodDeps): Pick<Handlers, 'export.request' | 'export.show' | 'export.approve' | 'export.complete' | 'export.fetch' | 'export.delivered'> {
  const custodyOf = async (): Promise<(fp: string) => 'box' | 'own'> => {
    const all = new Map((await d.approvers.list()).map((a) => [a.fingerprint, a.custody]));
    return (fp) => all.get(fp) ?? 'box';
  };
  const refusing = <T>(actor: AuditActor, subject: string, details: Record<string, unknown>, fn: () => Promise<T>): Promise<T> =>
    auditRefusal(d, { actor, action: 'export.refused', subject, details }, fn);
  return {
    'export.request': async (p, ctx) => {
      const actor = auditActor(ctx.caller);
      const request = await refusing(actor, p.incident, { step: 'request', approvers: p.approvers.map((a) => a.role), legalBasis: p.legalBasis }, async () =>
        d.exports.request(
          {
            incident: p.incident,
            approvers: await Promise.all(p.approvers.map(async (a) => ({ role: a.role, fingerprint: a.keyId === undefined ? undefined : await resolveKeyId(d.approvers, a.keyId, '--approver') }))),
            legalBasis: p.legalBasis,
            reference: p.reference.trim(),
            officer: p.officer?.trim() ?? null,
            badge: p.badge?.trim() ?? null,
            agency: p.agency?.trim() ?? null,
          },
          actor,
        ),
      );
      return exportInfo(request, await custodyOf(), true);
    },
    'export.show': async (p, ctx) => {
      const request = await d.exports.get(p.request);
      await d.audit({ actor: auditActor(ctx.caller), action: 'export.show', subject: request.incident, details: { request: request.id } });
      return exportInfo(request, await custodyOf(), true);
    },
    'export.approve': async (p, ctx) => {
      const actor = auditActor(ctx.caller);
      const subject = await d.exports.get(p.request).then(
        (r) => r.incident,
        () => p.request,
      );
      const request = await refusing(actor, subject, { step: 'approve', request: p.request, role: p.role }, async () => {
        const fingerprint = p.keyId === undefined ? undefined : await resolveKeyId(d.approvers, p.keyId, '--approver');
        if ((p.passphrase === undefined) === (p.signature === undefined)) {
          throw new LibcamError('usage', 'an approval is the approver’s passphrase, or --signature FILE with their signature (not both)', { flag: '--signature' });
        }
        if (p.signature !== undefined) {
          const signature = Buffer.from(p.signature, 'base64');
          if (signature.length !== SIGNATURE_BYTES) {
            throw new LibcamError('invalid-input', `--signature: ${signature.length} bytes, not an Ed25519 signature (${SIGNATURE_BYTES} bytes, as openssl pkeyutl -sign -rawin writes it)`, { flag: '--signature' });
          }
          return d.exports.approveWithSignature(p.request, p.role, signature, actor, fingerprint);
        }
        return d.exports.approveWithPassphrase(p.request, { role: p.role, fingerprint, passphrase: p.passphrase ?? '' }, actor);
      });
      return exportInfo(request, await custodyOf(), false);
    },
    'export.complete': async (p, ctx) => {
      const actor = auditActor(ctx.caller);
      const { request, files } = await refusing(actor, p.request, { step: 'complete', request: p.request }, () => d.exports.complete(p.request, ctx.caller.uid, actor));
      return { request: request.id, manifestSha256: request.manifestSha256, files };
    },
    'export.fetch': async (p, ctx) => {
      const file = await d.exports.fetch(p.request, p.path, ctx.caller.uid);
      if (p.descriptor === true && file.source !== null) return new Streamed({ path: file.path, bytes: file.bytes, descriptor: true }, file.read, file.source);
      return new Streamed({ path: file.path, bytes: file.bytes }, file.read);
    },
    'export.delivered': async (p, ctx) => {
      const entry = await d.exports.delivered(p.request, { dir: p.dir, files: p.files, bytes: p.bytes }, auditActor(ctx.caller));
      return { auditSeq: entry.seq };
    },
  };
}
