import { Option, type Command } from 'commander';
import { formatBytes, formatDuration } from '../../config/units.js';
import type { RecordingsResult } from '../../protocol.js';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';
import { parseTime, type ShowTime } from '../time.js';

interface RecordingsOptions {
  camera: string;
  from: string;
  to: string;
}

/** One row per segment or gap, in time order; a gap still open shows `(ongoing)`. */
export function renderRecordings(r: RecordingsResult, time: ShowTime): string {
  const rows: { at: number; cells: (string | number | null)[] }[] = [];
  for (const s of r.segments) {
    const ms = Date.parse(s.end) - Date.parse(s.start);
    rows.push({ at: Date.parse(s.start), cells: [time(s.start), time(s.end), formatDuration(ms), 'segment', formatBytes(s.bytes), s.sha256.slice(0, 16)] });
  }
  for (const g of r.gaps) {
    const end = g.end ?? r.to;
    rows.push({ at: Date.parse(g.start), cells: [time(g.start), g.end === null ? '(ongoing)' : time(g.end), formatDuration(Date.parse(end) - Date.parse(g.start)), `gap: ${g.cause}`, null, null] });
  }
  rows.sort((a, b) => a.at - b.at);
  const bytes = r.segments.reduce((sum, s) => sum + s.bytes, 0);
  const head = `${r.camera} from ${time(r.from)} to ${time(r.to)}: ${r.segments.length} segments (${formatBytes(bytes)}), ${r.gaps.length} gaps`;
  const more = r.truncated ? '\n(more segments match: ask for a shorter range)' : '';
  if (rows.length === 0) return `${head}\nnothing recorded in this range`;
  return `${head}\n\n${table(['START', 'END', 'LENGTH', 'WHAT', 'BYTES', 'SHA-256'], rows.map((row) => row.cells))}${more}`;
}

export function registerRecordings(program: Command): void {
  program
    .command('recordings')
    .description("one camera's recorded segments and the gaps between them (with their causes) in a time range")
    .requiredOption('--camera <name>', 'the camera, as `libcam cameras list` names it')
    .addOption(new Option('--from <time>', 'start of the range').default('-1h'))
    .addOption(new Option('--to <time>', 'end of the range').default('now'))
    .addHelpText(
      'after',
      '\nTimes: ISO 8601 with a zone (2026-11-28T14:05:00Z), now, or relative (-15m, -2h, -1d).\n' +
        'Gap causes: camera-lost, daemon-down, paused-maintenance, paused-privacy, disk-full, file-lost (fsck --repair found the file gone).\n\n' +
        'Example:\n  libcam recordings --camera front-desk --from -2h --json | jq \'.gaps\'',
    )
    .action(async (opts: RecordingsOptions, command: Command) => {
      const { client, json, timeMs } = contextOf(command);
      const now = Date.now();
      const from = parseTime(opts.from, '--from', now);
      const to = parseTime(opts.to, '--to', now);
      const result = await client.call('recordings', { camera: opts.camera, from: new Date(from).toISOString(), to: new Date(to).toISOString() });
      if (json) printJson(result);
      else printText(renderRecordings(result, timeMs));
    });
}
