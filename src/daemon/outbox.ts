import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { createTransport, type Transporter } from 'nodemailer';
import type { Clock, Timer } from '../clock.js';
import type { NotifyConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { AuditInput } from '../store/audit.js';
import type { IndexDb } from '../store/indexDb.js';

/** One e-mail to the Library Director, kept in the index until the relay has taken it. */
export interface Notification {
  id: string;
  seq: number;
  created: number;
  subject: string;
  text: string;
  attempts: number;
  /** Not tried again before this time (ms); survives restarts. */
  nextAttempt: number;
  lastError: string | null;
}

interface OutboxMeta {
  /** The seq of the newest notification ever queued: seqs never repeat. */
  lastSeq: number;
  delivered: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastDeliveredAt: number | null;
}

/** The outbox as status and doctor show it; times are UTC milliseconds. */
export interface OutboxStatus {
  /** The Director's address; null when notify is not configured (notifications wait). */
  to: string | null;
  pending: number;
  delivered: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastDeliveredAt: number | null;
  nextAttempt: number | null;
}

export type Send = (message: { to: string; from: string; subject: string; text: string; messageId: string }) => Promise<void>;

export interface OutboxOptions {
  index: IndexDb;
  notify: NotifyConfig | undefined;
  log: Logger;
  audit: (input: AuditInput) => Promise<unknown>;
  /** How mail leaves the box; nodemailer over SMTP unless a test passes its own. */
  send?: Send;
  clock: Clock;
}

const pad = (n: number): string => String(n).padStart(12, '0');
const SMTP_TIMEOUT_MS = 10_000;
/** How often an outbox with no notify configured says so again in status. */
const UNCONFIGURED_RETRY_MS = 60_000;
const STOP_WAIT_MS = 3000;

function transportFor(smtp: NotifyConfig['smtp'], timeoutMs = SMTP_TIMEOUT_MS): Transporter {
  return createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: smtp.requireTLS,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
}

function smtpSend(smtp: NotifyConfig['smtp']): Send {
  const transport = transportFor(smtp);
  return async (message) => {
    await transport.sendMail(message);
  };
}

/** For `libcam doctor`: whether the relay answers (and upgrades to TLS where required); undefined when it does. */
export async function relayProblem(smtp: NotifyConfig['smtp']): Promise<string | undefined> {
  try {
    await transportFor(smtp, 5000).verify();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * The Director notification outbox (policy §3, docs/design.md): every access to archival footage
 * puts one notification here, in the same index as the audit trail, and it stays until the
 * SMTP relay accepts it. Delivery is one at a time, oldest first; a failure waits
 * `retry.first`, doubling up to `retry.max`, and the wait is stored so a restart does not
 * hammer a relay that is down. A notification is removed only after the relay said yes; if
 * the box dies between those two steps it is sent again with the same Message-ID, which
 * mail clients show once.
 */
export class Outbox {
  private readonly box;
  private readonly meta;
  private readonly send: Send | undefined;
  private readonly now: () => number;
  private readonly firstRetryMs: number;
  private readonly maxRetryMs: number;
  private pending = 0;
  private state: OutboxMeta = { lastSeq: 0, delivered: 0, lastError: null, lastErrorAt: null, lastDeliveredAt: null };
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly opts: OutboxOptions) {
    this.box = opts.index.db.sublevel<string, Notification>('outbox', { valueEncoding: 'json' });
    this.meta = opts.index.db.sublevel<string, OutboxMeta>('outbox-meta', { valueEncoding: 'json' });
    this.send = opts.send ?? (opts.notify ? smtpSend(opts.notify.smtp) : undefined);
    this.now = () => opts.clock.now();
    // Without notify nothing is sent and nothing retried: notifications wait for a configuration.
    this.firstRetryMs = opts.notify?.retry.firstMs ?? UNCONFIGURED_RETRY_MS;
    this.maxRetryMs = opts.notify?.retry.maxMs ?? UNCONFIGURED_RETRY_MS;
  }

  async start(): Promise<void> {
    const [last] = await this.box.values({ reverse: true, limit: 1 }).all();
    this.pending = (await this.box.keys().all()).length;
    this.state = (await this.meta.get('meta')) ?? this.state;
    this.state.lastSeq = Math.max(this.state.lastSeq, last?.seq ?? 0);
    this.stopped = false;
    this.schedule(this.now());
  }

  /**
   * Waits a little for a delivery under way, not for a relay that hangs: an unfinished
   * notification stays in the outbox and goes out after the restart.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    let timer: Timer | undefined;
    await Promise.race([this.running, new Promise((resolve) => (timer = this.opts.clock.setTimeout(() => resolve(undefined), STOP_WAIT_MS)))]);
    timer?.cancel();
  }

  /** Resolves once no delivery round is under way (for tests that move the clock). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Queues a notification (durably) and tries to deliver it now. */
  async enqueue(subject: string, text: string): Promise<Notification> {
    const seq = ++this.state.lastSeq;
    const notification: Notification = { id: randomUUID(), seq, created: this.now(), subject, text, attempts: 0, nextAttempt: 0, lastError: null };
    await this.write((batch) => batch.put(pad(seq), notification, { sublevel: this.box }));
    this.pending += 1;
    this.schedule(this.now());
    return notification;
  }

  async status(): Promise<OutboxStatus> {
    // Delivery goes oldest first and waits on the oldest: its next attempt is the outbox's.
    const oldest = await this.oldest();
    const meta = this.state;
    return {
      to: this.opts.notify?.director.email ?? null,
      pending: this.pending,
      delivered: meta.delivered,
      lastError: meta.lastError,
      lastErrorAt: meta.lastErrorAt,
      lastDeliveredAt: meta.lastDeliveredAt,
      nextAttempt: oldest ? Math.max(oldest.nextAttempt, this.now()) : null,
    };
  }

  private async oldest(): Promise<Notification | undefined> {
    const [first] = await this.box.values({ limit: 1 }).all();
    return first;
  }

  /** One durable batch: the change to a notification and the outbox's counters together. */
  private async write(change: (batch: ReturnType<IndexDb['db']['batch']>) => void): Promise<void> {
    const batch = this.opts.index.db.batch();
    change(batch);
    batch.put('meta', { ...this.state }, { sublevel: this.meta });
    await batch.write({ sync: true });
  }

  /** The next delivery round at wall-clock time `when`: a stored next attempt holds across clock steps. */
  private schedule(when: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.opts.clock.at(() => {
      if (this.running) {
        // A round is under way: look again after it (an interval, on the monotonic clock).
        this.timer = this.opts.clock.setTimeout(() => this.schedule(this.now()), 200);
        return;
      }
      this.running = this.deliverDue(when)
        .catch((err: unknown) => this.opts.log.error({ err }, 'notification delivery round failed'))
        .finally(() => (this.running = undefined));
    }, when);
  }

  /**
   * Delivers due notifications oldest first; stops at the first failure and reschedules.
   * `dueBy` is the time the round was set for: a round that came by the monotonic clock
   * after the wall clock stepped back treats what was due then as due.
   */
  private async deliverDue(dueBy: number): Promise<void> {
    for (let next = await this.oldest(); next && !this.stopped; next = await this.oldest()) {
      if (next.nextAttempt > Math.max(this.now(), dueBy)) return this.schedule(next.nextAttempt);
      if (!(await this.deliver(next))) return;
    }
  }

  private async deliver(notification: Notification): Promise<boolean> {
    const { notify, log } = this.opts;
    try {
      if (!notify || !this.send) throw new Error('notify is not configured: set notify.director and notify.smtp in the configuration');
      await this.send({
        to: notify.director.email,
        from: notify.smtp.from,
        subject: notification.subject,
        text: notification.text,
        messageId: `<${notification.id}@${hostname()}.libcam>`,
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const attempts = notification.attempts + 1;
      const waitMs = Math.min(this.maxRetryMs, this.firstRetryMs * 2 ** (attempts - 1));
      const retried: Notification = { ...notification, attempts, lastError: message, nextAttempt: this.now() + waitMs };
      this.state.lastError = message;
      this.state.lastErrorAt = this.now();
      await this.write((batch) => batch.put(pad(notification.seq), retried, { sublevel: this.box }));
      log.warn({ notification: notification.id, attempts, retryInMs: waitMs, error: message }, 'Director notification not delivered; will retry');
      this.schedule(retried.nextAttempt);
      return false;
    }
    this.state.delivered += 1;
    this.state.lastDeliveredAt = this.now();
    await this.write((batch) => batch.del(pad(notification.seq), { sublevel: this.box }));
    this.pending -= 1;
    log.info({ notification: notification.id, attempts: notification.attempts + 1 }, 'Director notification delivered');
    await this.opts.audit({
      action: 'notify.delivered',
      subject: notification.id,
      details: { to: notify.director.email, subject: notification.subject, attempts: notification.attempts + 1 },
    });
    return true;
  }
}
