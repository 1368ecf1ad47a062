import { iso, type Clock } from '../clock.js';
import { LibcamError } from '../errors.js';
import { Serial } from '../serial.js';
import { checkStrength, hashPassword, passwordMatches, type PasswordHash, type ScryptParams } from '../secrets.js';
import type { AuditActor, AuditEntry, AuditInput } from '../store/audit.js';
import type { IndexDb } from '../store/indexDb.js';

/**
 * Staff accounts of the live view (policy §1: "an accessible password protected site"):
 * a name and a password hashed with scrypt (32 MiB, ~0.1 s a try: dear to guess offline,
 * cheap enough for a login), in the index. Changes are audited; removing an account tells
 * whoever holds its sessions (the web server) to end them at once.
 */
export interface StaffAccount {
  user: string;
  password: PasswordHash;
  created: number;
  changed: number;
  lastLogin: number | null;
}

/** scrypt for staff passwords: 32 MiB. Stored with each hash, so it can be raised later. */
const PASSWORD_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
/** zxcvbn's score a staff password must reach (3: "safely unguessable" online). */
const MIN_SCORE = 3;
export const STAFF_USER = /^[a-z][a-z0-9._-]{0,31}$/;

export interface StaffOptions {
  index: IndexDb;
  clock: Clock;
  audit: (input: AuditInput) => Promise<AuditEntry>;
}

export class StaffAccounts {
  private readonly records;
  private readonly changes = new Serial();
  private readonly removedListeners: ((user: string) => void)[] = [];

  constructor(private readonly opts: StaffOptions) {
    this.records = opts.index.db.sublevel<string, StaffAccount>('staff', { valueEncoding: 'json' });
  }

  /** Called with the account's name when it is removed or its password changed: its sessions end. */
  onEnded(listener: (user: string) => void): void {
    this.removedListeners.push(listener);
  }

  async list(): Promise<StaffAccount[]> {
    return this.records.values().all();
  }

  private async save(account: StaffAccount): Promise<void> {
    await this.opts.index.db.batch([{ type: 'put', sublevel: this.records, key: account.user, value: account }], { sync: true });
  }

  private static checkName(user: string): void {
    if (!STAFF_USER.test(user)) throw new LibcamError('invalid-input', `USER: "${user}" is not an account name (lower-case letters, digits, . _ -; up to 32, starting with a letter)`, { flag: 'USER' });
  }

  async add(user: string, password: string, actor: AuditActor): Promise<StaffAccount> {
    StaffAccounts.checkName(user);
    checkStrength(password, [user], { name: 'password', flag: 'password', minScore: MIN_SCORE });
    return this.changes.run(async () => {
      if (await this.records.get(user)) throw new LibcamError('conflict', `staff account ${user} exists already (libcam staff passwd ${user} changes its password)`, { user });
      const now = this.opts.clock.now();
      const account: StaffAccount = { user, password: await hashPassword(password, PASSWORD_SCRYPT), created: now, changed: now, lastLogin: null };
      await this.save(account);
      await this.opts.audit({ actor, action: 'staff.add', subject: user, details: {} });
      return account;
    });
  }

  async passwd(user: string, password: string, actor: AuditActor): Promise<StaffAccount> {
    StaffAccounts.checkName(user);
    checkStrength(password, [user], { name: 'password', flag: 'password', minScore: MIN_SCORE });
    const account = await this.changes.run(async () => {
      const current = await this.get(user);
      const next: StaffAccount = { ...current, password: await hashPassword(password, PASSWORD_SCRYPT), changed: this.opts.clock.now() };
      await this.save(next);
      await this.opts.audit({ actor, action: 'staff.passwd', subject: user, details: {} });
      return next;
    });
    for (const l of this.removedListeners) l(user);
    return account;
  }

  async remove(user: string, actor: AuditActor): Promise<StaffAccount> {
    StaffAccounts.checkName(user);
    const account = await this.changes.run(async () => {
      const current = await this.get(user);
      await this.opts.index.db.batch([{ type: 'del', sublevel: this.records, key: user }], { sync: true });
      await this.opts.audit({ actor, action: 'staff.remove', subject: user, details: { created: iso(current.created) } });
      return current;
    });
    for (const l of this.removedListeners) l(user);
    return account;
  }

  async get(user: string): Promise<StaffAccount> {
    const account = await this.records.get(user);
    if (!account) throw new LibcamError('not-found', `no staff account ${user} (libcam staff list)`, { user });
    return account;
  }

  /** The account when `password` is its password, else undefined; a success is remembered as its last login. */
  async check(user: string, password: string): Promise<StaffAccount | undefined> {
    const account = STAFF_USER.test(user) ? await this.records.get(user) : undefined;
    if (!account) {
      // As long as a real check, so the answer's time does not tell which names exist.
      await passwordMatches(DUMMY, password);
      return undefined;
    }
    if (!(await passwordMatches(account.password, password))) return undefined;
    return this.changes.run(async () => {
      const fresh = await this.records.get(user);
      // Removed, or its password changed, while this one was checked: the old password opens nothing.
      if (!fresh || fresh.changed !== account.changed) return undefined;
      const next = { ...fresh, lastLogin: this.opts.clock.now() };
      await this.save(next);
      return next;
    });
  }
}

/** A hash no password matches, checked when the name is unknown. */
const DUMMY: PasswordHash = { kdf: 'scrypt', ...PASSWORD_SCRYPT, salt: 'AAAAAAAAAAAAAAAAAAAAAA==', hash: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' };
