import type { Command } from 'commander';
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
    .description('walks the hash chain and names the first entry that was changed, removed, inserted or moved')
    .addHelpText('after', '\nExit status 0 when the chain holds, 1 when it does not.')
    .action(async (_opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const verdict = await client.call('audit.verify', {});
      if (json) printJson(verdict);
      else printText(verdict.ok ? `audit trail intact: ${verdict.entries} entries` : `audit trail broken at entry ${verdict.brokenAt ?? '?'}: ${verdict.problem ?? ''}`);
      if (!verdict.ok) process.exitCode = 1;
    });
}
