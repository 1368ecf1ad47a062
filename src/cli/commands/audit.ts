import type { Command } from 'commander';
import { LibcamError } from '../../errors.js';
import { ANCHOR_PATTERN } from '../../protocol.js';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';
import { parseTime } from '../time.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the hash-chained audit trail of everything done with the cameras and footage');
  audit
    .command('list')
    .description('audit entries, oldest first')
    .option('--since <time>', 'only entries from this time on (ISO 8601 with a zone, now, -2h, -7d)')
    .option('--action <action>', 'only this action (daemon.start, prune, hold.place, disk-full, ...)')
    .action(async (opts: { since?: string; action?: string }, command: Command) => {
      const { client, json, time } = contextOf(command);
      const params: { since?: string; action?: string } = {};
      if (opts.since !== undefined) params.since = new Date(parseTime(opts.since, '--since')).toISOString();
      if (opts.action !== undefined) params.action = opts.action;
      const entries = await client.call('audit.list', params);
      if (json) return printJson(entries);
      if (entries.length === 0) return printText('no audit entries');
      const who = (a: { user: string; requestedBy?: string }): string => (a.requestedBy ? `${a.user} for ${a.requestedBy}` : a.user);
      printText(table(['SEQ', 'AT', 'ACTOR', 'ACTION', 'PURPOSE', 'SUBJECT'], entries.map((e) => [e.seq, time(e.at), who(e.actor), e.action, e.purpose, e.subject])));
    });
  audit
    .command('verify')
    .description("checks the trail: every entry in place, unchanged, following the one before, signed by this appliance's key; the signed head; and any anchors")
    .option('--anchor <seq:hash>', 'a head copied from a Director notice or the daily digest (repeat for several)', (value: string, all: string[]) => [...all, value], [])
    .addHelpText(
      'after',
      '\nA rewrite by someone without the appliance key breaks the signatures; a rewrite by someone who has it\n' +
        'is caught by an anchor mailed before it: each Director notice and the daily digest carry one.\n\n' +
        'Exit status 0 when the trail holds, 1 when it does not.\n\n' +
        'Example:\n  libcam audit verify --anchor 1452:9f2c…(the 64 hex digits from the mail)',
    )
    .action(async (opts: { anchor: string[] }, command: Command) => {
      const { client, json } = contextOf(command);
      for (const a of opts.anchor) {
        if (!new RegExp(ANCHOR_PATTERN).test(a)) throw new LibcamError('usage', `--anchor: "${a}" is not SEQ:HASH (the entry number, a colon, 64 hex digits)`, { flag: '--anchor' });
      }
      const verdict = await client.call('audit.verify', opts.anchor.length > 0 ? { anchors: opts.anchor } : {});
      if (json) printJson(verdict);
      else if (verdict.ok) {
        const anchors = verdict.anchors > 0 ? `, ${verdict.anchors} anchor${verdict.anchors > 1 ? 's' : ''} in place` : '';
        const legacy = verdict.unsigned > 0 ? ` (the first ${verdict.unsigned} written before signing began)` : '';
        printText(`audit trail intact: ${verdict.entries} entries, signed by this appliance${legacy}${anchors}`);
      } else printText(`audit trail broken at entry ${verdict.brokenAt ?? '?'}:\n${verdict.problems.map((p) => `  ${p}`).join('\n')}`);
      if (!verdict.ok) process.exitCode = 1;
    });
}
