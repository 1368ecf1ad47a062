import { asLibcamError } from '../../errors.js';
import type { AuditActor } from '../../store/audit.js';
import type { MethodDeps } from './context.js';

/**
 * Runs `fn`; when it refuses (any error but a fault of the box itself), the refusal is an
 * audit entry `action` with its reason before the error goes back to the client. Policy §3:
 * every attempt to release footage or to change who may approve it is on record, granted or not.
 */
export async function auditRefusal<T>(
  d: Pick<MethodDeps, 'audit'>,
  entry: { actor: AuditActor; action: string; subject: string; details: Record<string, unknown> },
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const error = asLibcamError(err, `${entry.action} failed`);
    if (error.code !== 'internal' && error.code !== 'io') {
      await d.audit({ ...entry, details: { ...entry.details, code: error.code, reason: error.message } });
    }
    throw err;
  }
}
