import type { Command } from 'commander';
import { formatBytes } from '../../config/units.js';
import type { FsckResult, PruneResult } from '../../protocol.js';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';
import { parseTime, type ShowTime } from '../time.js';

export function renderPrune(r: PruneResult, time: ShowTime): string {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  const head = `${verb} ${r.deleted.segments} segments (${formatBytes(r.deleted.bytes)}): ${r.byReason.age} by age, ${r.byReason.size} for maxBytes, ${r.byReason.reserve} for the free-space reserve; ${r.kept.held} kept because they are held`;
  if (r.cameras.length === 0) return head;
  const rows = r.cameras.map((c) => [c.camera, c.segments, formatBytes(c.bytes), time(c.from), time(c.to)]);
  return `${head}\n\n${table(['CAMERA', 'SEGMENTS', 'BYTES', 'FROM', 'TO'], rows)}\n\nreceipt SHA-256 ${r.receiptSha256}`;
}

export function renderFsck(r: FsckResult): string {
  const head = `${r.checked.segments} index entries and ${r.checked.files} files checked${r.checked.deep ? ' (hashes too)' : ''}: ${r.ok ? 'consistent' : `${r.problems.length} problems`}`;
  if (r.ok) return head;
  return `${head}\n\n${table(['KIND', 'FILE', 'DETAIL', 'REPAIR'], r.problems.map((p) => [p.kind, p.file, p.detail, p.repair ?? null]))}`;
}

export function registerStore(program: Command): void {
  program
    .command('prune')
    .description('applies retention now: deletes the oldest footage no hold covers until maxAge, maxBytes and minFreeBytes all hold')
    .option('--dry-run', 'say what would be deleted and delete nothing')
    .addHelpText(
      'after',
      '\nThis is what libcam-prune.timer (or the cron line in config/libcam-prune.cron) runs daily.\n' +
        'Every prune leaves a receipt in the index: counts, bytes, time range per camera and a SHA-256 of what went.\n' +
        'A second prune while one runs is refused (exit 1).',
    )
    .action(async (opts: { dryRun?: boolean }, command: Command) => {
      const { client, json, time } = contextOf(command);
      const result = await client.call('prune', { dryRun: opts.dryRun === true });
      if (json) printJson(result);
      else printText(renderPrune(result, time));
    });

  program
    .command('receipts')
    .description('what each prune deleted: segments, bytes and time range per camera, and a SHA-256 of the deleted segments')
    .option('--since <time>', 'only receipts from this time on', '-30d')
    .addHelpText('after', '\nThe record of retention being applied, for the board. Times: ISO 8601 with a zone, now, or -30d.')
    .action(async (opts: { since: string }, command: Command) => {
      const { client, json, time } = contextOf(command);
      const receipts = await client.call('prune.receipts', { since: new Date(parseTime(opts.since, '--since')).toISOString() });
      if (json) return printJson(receipts);
      if (receipts.length === 0) return printText(`no prune deleted anything since ${opts.since}`);
      const rows = receipts.flatMap((r) =>
        r.cameras.map((c) => [time(r.at), c.camera, c.segments, formatBytes(c.bytes), time(c.from), time(c.to), r.sha256.slice(0, 16), r.interrupted ? 'interrupted' : null]),
      );
      printText(table(['PRUNED AT', 'CAMERA', 'SEGMENTS', 'BYTES', 'FROM', 'TO', 'RECEIPT', 'NOTE'], rows));
    });

  program
    .command('fsck')
    .description("checks the store's invariants: every entry has its file, every file its entry, nothing held is gone")
    .option('--deep', 're-hash every file (reads the whole store)')
    .option('--repair', 'complete interrupted deletions and turn entries whose file is gone into file-lost gaps; never deletes held footage')
    .addHelpText('after', '\nExit status 0 when consistent (or repaired), 1 when problems remain.')
    .action(async (opts: { deep?: boolean; repair?: boolean }, command: Command) => {
      const { client, json } = contextOf(command);
      const result = await client.call('fsck', { deep: opts.deep === true, repair: opts.repair === true });
      if (json) printJson(result);
      else printText(renderFsck(result));
      if (result.problems.some((p) => p.repaired !== true)) process.exitCode = 1;
    });
}
