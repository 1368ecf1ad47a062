import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { iso, type Clock } from '../clock.js';
import { LibcamError } from '../errors.js';
import { checkStrength, derive } from '../secrets.js';
import { Serial } from '../serial.js';
import type { Logger } from '../log.js';
import type { AuditActor, AuditEntry, AuditInput } from '../store/audit.js';
import type { IndexDb } from '../store/indexDb.js';
import { fingerprintOf } from './applianceKey.js';
import { isPair, type Role } from './policy.js';

/** scrypt's parameters, recorded with each sealed key: 128 MB and ~0.4 s per try on this machine. */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
/** Wrong passphrases in a row before an approver's key is locked, and for how long. */
export const MAX_FAILURES = 3;
export const LOCK_MS = 15 * 60_000;
/** zxcvbn's score (0-4) an approver's passphrase must reach. */
const MIN_SCORE = 4;

export interface SealedKey {
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  cipher: 'aes-256-gcm';
  iv: string;
  tag: string;
  data: string;
}

export interface Approver {
  fingerprint: string;
  role: Role;
  name: string;
  publicKeyPem: string;
  /** `box`: the private key is sealed here with the approver's passphrase; `own`: it never touched this box. */
  custody: 'box' | 'own';
  sealed: SealedKey | null;
  enrolled: number;
  revoked: number | null;
  failures: number;
  lockedUntil: number;
  /** The approvers whose signatures allowed this enrolment (none while the box had no allowed pair). */
  approvedBy: { role: Role; fingerprint: string; signature: string }[];
}

/** One approval given at the terminal: which approver, and the passphrase that opens their key. */
export interface PassphraseApproval {
  role: Role;
  /** When several approvers hold the role. */
  fingerprint?: string | undefined;
  passphrase: string;
}

export interface Signed {
  role: Role;
  name: string;
  fingerprint: string;
  /** Ed25519 over the statement, raw bytes. */
  signature: Buffer;
}

async function seal(privateKey: KeyObject, passphrase: string): Promise<SealedKey> {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = await derive(passphrase, salt, SCRYPT);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const data = Buffer.concat([cipher.update(privateKey.export({ type: 'pkcs8', format: 'der' })), cipher.final()]);
  return { kdf: 'scrypt', ...SCRYPT, salt: salt.toString('base64'), cipher: 'aes-256-gcm', iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

/** The private key, or undefined when the passphrase is wrong (GCM's tag does not match). */
async function unseal(sealed: SealedKey, passphrase: string): Promise<KeyObject | undefined> {
  const key = await derive(passphrase, Buffer.from(sealed.salt, 'base64'), sealed);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  try {
    const der = Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return undefined;
  }
}

/** An Ed25519 public key in PEM (SPKI), as `openssl pkey -pubout` writes it; refused otherwise. */
export function ed25519Public(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new LibcamError('invalid-input', `--public-key: not a public key in PEM (${err instanceof Error ? err.message : String(err)}); make one with: openssl genpkey -algorithm ed25519 -out approver.key && openssl pkey -in approver.key -pubout -out approver.pub`, {
      flag: '--public-key',
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new LibcamError('invalid-input', `--public-key: an ${key.asymmetricKeyType ?? 'unknown'} key; an Ed25519 key is needed`, { flag: '--public-key' });
  return key;
}

export interface ApproversOptions {
  index: IndexDb;
  clock: Clock;
  audit: (input: AuditInput) => Promise<AuditEntry>;
  notify: (subject: string, text: string) => Promise<unknown>;
  pairs: readonly (readonly [Role, Role])[];
  log: Logger;
}

/**
 * The enrolled approvers. Changing who may approve is itself dual-controlled: once the
 * active approvers form an allowed pair, an enrolment or revocation needs the signatures
 * of two approvers who form one (until then — a new box — enrolment is open, audited and
 * notified). Three wrong passphrases in a row lock an approver's key for 15 minutes.
 */
export class Approvers {
  private readonly records;
  private readonly meta;
  /** One change of approvers at a time: two enrolments at once must not both pass as the first. */
  private readonly changes = new Serial();
  /** One write of a record at a time, each a fresh read-modify-write. */
  private readonly writes = new Serial();
  private readonly opening = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: ApproversOptions) {
    this.records = opts.index.db.sublevel<string, Approver>('approver', { valueEncoding: 'json' });
    this.meta = opts.index.db.sublevel<string, number>('approver-meta', { valueEncoding: 'json' });
  }

  /** The pairs of roles that may approve together (export.approvalPairs). */
  get pairs(): readonly (readonly [Role, Role])[] {
    return this.opts.pairs;
  }

  async list(): Promise<Approver[]> {
    return this.records.values().all();
  }

  async active(): Promise<Approver[]> {
    return (await this.list()).filter((a) => a.revoked === null);
  }

  /**
   * Whether this box has had an allowed pair of approvers. From then on, for ever, changes
   * need two approvals: revoking one of a pair must not reopen enrolment to anyone.
   */
  async bootstrapped(): Promise<boolean> {
    return (await this.meta.get('bootstrapped')) !== undefined || this.formPair(await this.active());
  }

  private formPair(approvers: readonly Approver[]): boolean {
    const roles = [...new Set(approvers.map((a) => a.role))];
    return roles.some((a) => roles.some((b) => isPair(a, b, this.opts.pairs)));
  }

  private async save(approver: Approver): Promise<void> {
    await this.opts.index.db.batch([{ type: 'put', sublevel: this.records, key: approver.fingerprint, value: approver }], { sync: true });
  }

  /**
   * Changes one approver's record as it is now, one change at a time across every writer:
   * a slow passphrase check never writes back a copy older than a revocation or a lock.
   */
  private update(fingerprint: string, change: (fresh: Approver) => Approver): Promise<Approver> {
    return this.writes.run(async () => {
      const fresh = await this.records.get(fingerprint);
      if (!fresh) throw new LibcamError('not-found', `no approver with the key ${fingerprint} (libcam approvers list)`, { fingerprint });
      const changed = change(fresh);
      await this.save(changed);
      return changed;
    });
  }

  /** One passphrase try at a time per key: parallel guesses wait their turn and meet the lock. */
  private oneTry<T>(fingerprint: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.opening.get(fingerprint) ?? Promise.resolve()).then(fn);
    const tail = next.catch(() => undefined);
    this.opening.set(fingerprint, tail);
    void tail.then(() => {
      if (this.opening.get(fingerprint) === tail) this.opening.delete(fingerprint);
    });
    return next;
  }

  /** The active approver a role (or a fingerprint) names; refused with what there is otherwise. */
  async pick(role: Role, fingerprint?: string): Promise<Approver> {
    const candidates = (await this.active()).filter((a) => a.role === role && (fingerprint === undefined || a.fingerprint === fingerprint));
    const [only, second] = candidates;
    if (!only) {
      const revoked = fingerprint ? (await this.records.get(fingerprint)) : undefined;
      throw new LibcamError('invalid-input', revoked?.revoked ? `--approver: the key ${fingerprint ?? ''} was revoked on ${iso(revoked.revoked)}` : `--approver: no ${role} is enrolled${fingerprint ? ` with the key ${fingerprint}` : ''} (libcam approvers list)`, {
        flag: '--approver',
      });
    }
    if (second) {
      throw new LibcamError('usage', `--approver: ${candidates.length} ${role}s are enrolled; name one as ${role}=FINGERPRINT (${candidates.map((c) => `${c.name} ${c.fingerprint}`).join(', ')})`, { flag: '--approver' });
    }
    return only;
  }

  /** Checks the roles of two approvals form an allowed pair. */
  requirePair(roles: Role[]): void {
    const [a, b, ...rest] = roles;
    if (a === undefined || b === undefined || rest.length > 0) {
      throw new LibcamError('usage', `--approver: exactly two approvers are needed (policy §3: Director with President, or Assistant with President); ${roles.length} given`, { flag: '--approver' });
    }
    if (a === b) throw new LibcamError('invalid-input', `--approver: ${a} twice: two different roles are needed`, { flag: '--approver' });
    if (!isPair(a, b, this.opts.pairs)) {
      throw new LibcamError('invalid-input', `--approver: ${a} with ${b} is not an allowed pair; allowed: ${this.opts.pairs.map(([x, y]) => `${x} with ${y}`).join(', ')}`, { flag: '--approver' });
    }
  }

  /**
   * Opens an approver's key with the passphrase, counting wrong tries: the third in a row
   * locks the key for 15 minutes (audited, and the Director is told).
   */
  async open(approver: Approver, passphrase: string, actor: AuditActor): Promise<KeyObject> {
    return this.oneTry(approver.fingerprint, () => this.tryPassphrase(approver.fingerprint, passphrase, actor));
  }

  private async tryPassphrase(fingerprint: string, passphrase: string, actor: AuditActor): Promise<KeyObject> {
    const current = await this.records.get(fingerprint);
    if (!current) throw new LibcamError('not-found', `no approver with the key ${fingerprint} (libcam approvers list)`, { fingerprint });
    if (current.revoked !== null) throw new LibcamError('invalid-input', `--approver: the key ${fingerprint} was revoked on ${iso(current.revoked)}`, { flag: '--approver' });
    if (current.lockedUntil > this.opts.clock.now()) {
      throw new LibcamError('conflict', `the ${current.role}'s key (${current.name}) is locked until ${iso(current.lockedUntil)} after ${MAX_FAILURES} wrong passphrases`, { fingerprint });
    }
    if (current.custody !== 'box' || !current.sealed) {
      throw new LibcamError('invalid-input', `${current.name}'s key is on their own computer: they approve with a signature (libcam export --request, then libcam approve REQ --signature FILE)`, {
        fingerprint,
      });
    }
    const key = await unseal(current.sealed, passphrase);
    if (key) {
      const after = await this.update(fingerprint, (fresh) => ({ ...fresh, failures: 0 }));
      if (after.revoked !== null) throw new LibcamError('invalid-input', `--approver: the key ${fingerprint} was revoked on ${iso(after.revoked)}`, { flag: '--approver' });
      return key;
    }
    const now = this.opts.clock.now();
    const after = await this.update(fingerprint, (fresh) => {
      const failures = fresh.failures + 1;
      return failures >= MAX_FAILURES ? { ...fresh, failures: 0, lockedUntil: now + LOCK_MS } : { ...fresh, failures };
    });
    const locked = after.lockedUntil === now + LOCK_MS;
    const failures = locked ? MAX_FAILURES : after.failures;
    await this.opts.audit({ actor, action: locked ? 'approver.locked' : 'approver.wrong-passphrase', subject: fingerprint, details: { role: current.role, name: current.name, failures } });
    if (locked) {
      await this.opts.notify(
        `libcam: the ${current.role}'s key was locked after ${MAX_FAILURES} wrong passphrases`,
        `The key of ${current.name} (${current.role}, ${fingerprint}) was locked until ${iso(now + LOCK_MS)} after ${MAX_FAILURES} wrong passphrases in a row, asked by the account "${actor.user}".\n\nThis message was sent automatically by libcamd.`,
      );
    }
    throw new LibcamError('invalid-input', `wrong passphrase for the ${current.role} (${current.name})${locked ? `: the key is locked for ${LOCK_MS / 60_000} minutes` : `; ${MAX_FAILURES - failures} more ${MAX_FAILURES - failures === 1 ? 'try' : 'tries'} before the key is locked`}`, {
      flag: 'passphrase',
      triesLeft: locked ? 0 : MAX_FAILURES - failures,
    });
  }

  /** Two approvals given at the terminal, checked as a pair, each signing `statement`. */
  async sign(approvals: readonly PassphraseApproval[], statement: Buffer, actor: AuditActor): Promise<Signed[]> {
    const approvers = await Promise.all(approvals.map((a) => this.pick(a.role, a.fingerprint)));
    this.requirePair(approvers.map((a) => a.role));
    const signed: Signed[] = [];
    for (const [i, approver] of approvers.entries()) {
      const key = await this.open(approver, approvals[i]?.passphrase ?? '', actor);
      signed.push({ role: approver.role, name: approver.name, fingerprint: approver.fingerprint, signature: sign(null, statement, key) });
    }
    return signed;
  }

  async enroll(
    request: { role: Role; name: string; passphrase?: string | undefined; publicKeyPem?: string | undefined },
    approvals: readonly PassphraseApproval[],
    actor: AuditActor,
  ): Promise<Approver> {
    return this.changes.run(async () => {
      let publicKey: KeyObject;
      let privateKey: KeyObject | null = null;
      if (request.publicKeyPem !== undefined) publicKey = ed25519Public(request.publicKeyPem);
      else {
        if (request.passphrase === undefined) throw new LibcamError('usage', 'a passphrase for the new key, or --public-key FILE', { flag: 'passphrase' });
        checkStrength(request.passphrase, [request.name, request.role], { name: 'passphrase', flag: 'passphrase', minScore: MIN_SCORE });
        ({ publicKey, privateKey } = generateKeyPairSync('ed25519'));
      }
      const fingerprint = fingerprintOf(publicKey);
      if (await this.records.get(fingerprint)) throw new LibcamError('conflict', `the key ${fingerprint} is enrolled already`, { fingerprint });
      const now = this.opts.clock.now();
      const statement = Buffer.from(`libcam approver enroll ${request.role} ${JSON.stringify(request.name)} ${fingerprint} ${iso(now)}`);
      const approvedBy = await this.dualControl(approvals, statement, actor, 'enrol');
      // Sealed (128 MiB of scrypt) only once the enrolment is allowed.
      const sealed = privateKey && request.passphrase !== undefined ? await seal(privateKey, request.passphrase) : null;
      const approver: Approver = {
        fingerprint,
        role: request.role,
        name: request.name,
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        custody: sealed ? 'box' : 'own',
        sealed,
        enrolled: now,
        revoked: null,
        failures: 0,
        lockedUntil: 0,
        approvedBy,
      };
      await this.save(approver);
      if (this.formPair(await this.active())) await this.opts.index.db.batch([{ type: 'put', sublevel: this.meta, key: 'bootstrapped', value: now }], { sync: true });
      const entry = await this.opts.audit({
        actor,
        action: 'approver.enroll',
        subject: fingerprint,
        details: { role: approver.role, name: approver.name, custody: approver.custody, approvedBy: approvedBy.map((a) => ({ role: a.role, fingerprint: a.fingerprint })) },
      });
      await this.opts.notify(`libcam: approver enrolled: ${approver.name} (${approver.role})`, this.notice('enrolled', approver, entry, approvedBy));
      return approver;
    });
  }

  async revoke(fingerprint: string, approvals: readonly PassphraseApproval[], actor: AuditActor): Promise<Approver> {
    return this.changes.run(async () => {
      const approver = await this.records.get(fingerprint);
      if (!approver) throw new LibcamError('not-found', `no approver with the key ${fingerprint} (libcam approvers list)`, { fingerprint });
      if (approver.revoked !== null) throw new LibcamError('conflict', `the key ${fingerprint} was revoked on ${iso(approver.revoked)}`, { fingerprint });
      if ((await this.bootstrapped()) && !this.formPair((await this.active()).filter((a) => a.fingerprint !== fingerprint))) {
        throw new LibcamError(
          'conflict',
          `revoking ${approver.name}'s key would leave no allowed pair of approvers, and then nobody could approve an export or a change of approvers: enrol the successor first (approved by the current pair), then revoke`,
          { fingerprint },
        );
      }
      const now = this.opts.clock.now();
      const statement = Buffer.from(`libcam approver revoke ${approver.role} ${JSON.stringify(approver.name)} ${fingerprint} ${iso(now)}`);
      const approvedBy = await this.dualControl(approvals, statement, actor, 'revoke');
      const revoked = await this.update(fingerprint, (fresh) => ({ ...fresh, revoked: now, sealed: null }));
      const entry = await this.opts.audit({ actor, action: 'approver.revoke', subject: fingerprint, details: { role: approver.role, name: approver.name, approvedBy: approvedBy.map((a) => ({ role: a.role, fingerprint: a.fingerprint })) } });
      await this.opts.notify(`libcam: approver revoked: ${approver.name} (${approver.role})`, this.notice('revoked', revoked, entry, approvedBy));
      return revoked;
    });
  }

  /** Once the box has an allowed pair, changes need two approvals forming one; before, none are asked. */
  private async dualControl(approvals: readonly PassphraseApproval[], statement: Buffer, actor: AuditActor, what: string): Promise<Approver['approvedBy']> {
    if (!(await this.bootstrapped())) return [];
    if (approvals.length === 0) {
      throw new LibcamError(
        'invalid-input',
        `--approver: enrolled approvers form an allowed pair, so to ${what} an approver two of them must approve (--approver ROLE --approver ROLE; their passphrases are asked)`,
        { flag: '--approver' },
      );
    }
    const signed = await this.sign(approvals, statement, actor);
    return signed.map((s) => ({ role: s.role, fingerprint: s.fingerprint, signature: s.signature.toString('base64') }));
  }

  private notice(what: 'enrolled' | 'revoked', a: Approver, entry: AuditEntry, approvedBy: Approver['approvedBy']): string {
    return [
      `An approver was ${what} on the library camera system. Keep the fingerprint on paper: it identifies the key in every export it signs.`,
      '',
      `Approver:      ${a.name} (${a.role})`,
      `Fingerprint:   ${a.fingerprint}`,
      `Key kept:      ${a.custody === 'box' ? 'on the appliance, sealed with the approver’s passphrase' : 'on the approver’s own computer'}`,
      `Approved by:   ${approvedBy.length > 0 ? approvedBy.map((x) => `${x.role} ${x.fingerprint}`).join(', ') : 'nobody (the first approvers of a new appliance)'}`,
      `Audit entry:   #${entry.seq}`,
      `Audit head:    ${entry.seq}:${entry.hash}`,
      '',
      'This message was sent automatically by libcamd.',
    ].join('\n');
  }
}
