import { iso, type Clock, type Timer } from '../clock.js';
import type { Logger } from '../log.js';
import { anchorOf, type AuditTrail } from '../store/audit.js';
import type { IndexDb } from '../store/indexDb.js';
import type { Outbox } from './outbox.js';

/** The start of the next local day after `ms` (the box's time zone). */
export function nextMidnight(ms: number): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
}

export interface DigestOptions {
  trail: AuditTrail;
  outbox: Outbox;
  index: IndexDb;
  clock: Clock;
  log: Logger;
}

/**
 * The daily audit digest (policy §3; issue: the audit head leaves the box): at each local
 * midnight the Director is mailed, through the outbox, every audit entry of the day just
 * ended and the chain's head, with the command that checks the trail against it. What was
 * covered is kept in the index, so a restart neither repeats a day nor skips one.
 */
export class AuditDigest {
  private readonly meta;
  private timer: Timer | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly opts: DigestOptions) {
    this.meta = opts.index.db.sublevel<string, { coveredTo: number }>('digest-meta', { valueEncoding: 'json' });
  }

  async start(): Promise<void> {
    const now = this.opts.clock.now();
    const last = await this.meta.get('digest');
    if (last === undefined) await this.meta.put('digest', { coveredTo: now });
    // Days that ended while libcamd was down go out in one digest now.
    else if (nextMidnight(last.coveredTo) <= now) await this.send(last.coveredTo, new Date(new Date(now).setHours(0, 0, 0, 0)).getTime());
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = this.opts.clock.at(() => {
      this.running = this.sendDue()
        .catch((err: unknown) => this.opts.log.error({ err }, 'cannot queue the daily audit digest'))
        .finally(() => this.schedule());
    }, nextMidnight(this.opts.clock.now()));
  }

  /** Resolves once a digest being queued is queued (for tests that move the clock). */
  idle(): Promise<void> {
    return this.running;
  }

  private async sendDue(): Promise<void> {
    const from = (await this.meta.get('digest'))?.coveredTo ?? this.opts.clock.now();
    await this.send(from, new Date(new Date(this.opts.clock.now()).setHours(0, 0, 0, 0)).getTime());
  }

  /** Queues the digest of entries from `from` up to `to` (and the head as it is now). */
  private async send(from: number, to: number): Promise<void> {
    if (to <= from) return;
    const { trail, outbox } = this.opts;
    const all = await trail.list({ since: from });
    const entries = all.filter((e) => Date.parse(e.at) < to);
    const head = all.at(-1) ?? (await trail.list()).at(-1);
    const day = new Date(from).toLocaleDateString('en-CA');
    const lines = entries.map((e) => {
      const who = e.actor.requestedBy ? `${e.actor.user} for ${e.actor.requestedBy}` : e.actor.user;
      return `#${e.seq}  ${e.at}  ${who}  ${e.action}${e.purpose ? `  (${e.purpose})` : ''}${e.subject ? `  ${e.subject}` : ''}`;
    });
    const text = [
      `The audit trail of the library camera system, ${iso(from)} to ${iso(to)}: ${entries.length} entries.`,
      '',
      ...lines,
      '',
      head ? `Audit chain head: ${anchorOf(head)}` : 'The audit trail is empty.',
      head ? `Keep this line. Anyone can check later that the trail was not rewritten: libcam audit verify --anchor ${anchorOf(head)}` : '',
      `Appliance key: ${trail.appliance.fingerprint}`,
      '',
      'This message was sent automatically by libcamd.',
    ].join('\n');
    await outbox.enqueue(`libcam: audit digest for ${day} (${entries.length} entries)`, text);
    await this.meta.put('digest', { coveredTo: to });
    this.opts.log.info({ from: iso(from), to: iso(to), entries: entries.length }, 'daily audit digest queued');
  }
}
