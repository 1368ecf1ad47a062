import { Option, type Command } from 'commander';
import { formatBytes, formatDuration, parseDuration } from '../../config/units.js';
import { LibcamError } from '../../errors.js';
import { PATRON_PATTERN, type IncidentInfo } from '../../protocol.js';
import { PURPOSES, type Purpose } from '../../purposes.js';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';
import { parseTime, type ShowTime } from '../time.js';

interface IsolateOptions {
  camera: string[];
  from: string;
  to?: string;
  for?: string;
  purpose: Purpose;
  requestedBy: string;
  note?: string;
  patron: string[];
}

const collect = (value: string, all: string[]): string[] => [...all, value];

export function renderIncident(i: IncidentInfo, time: ShowTime): string {
  const lines = [
    `${i.id}: ${i.state === 'collecting' ? `collecting live footage until ${time(i.to)}` : i.state}, ${i.purpose}`,
    `  cameras    ${i.cameras.join(', ')}`,
    `  range      ${time(i.from)} to ${time(i.to)}`,
    `  opened     ${time(i.created)} by ${i.account.user} for ${i.requestedBy}`,
  ];
  if (i.note) lines.push(`  note       ${i.note}`);
  if (i.patrons.length > 0) lines.push(`  patrons    ${i.patrons.join(', ')}`);
  lines.push(`  footage    ${i.held ? 'held (no prune, disk guard or repair deletes it)' : 'no longer held'}`);
  for (const r of i.refused) lines.push(`  refused    ${r.camera}: ${r.reason}`);
  if (i.released) lines.push(`  released   ${time(i.released.at)} by ${i.released.by}${i.released.requestedBy ? ` for ${i.released.requestedBy}` : ''}: ${i.released.note}`);
  if (i.clips.length > 0) {
    lines.push('', table(['CAMERA', 'START', 'END', 'EARLIER', 'SEGMENTS', 'BYTES', 'SHA-256'], i.clips.map((c) => [c.camera, time(c.start), time(c.end), c.earlierMs > 0 ? formatDuration(c.earlierMs) : '-', c.segments, formatBytes(c.bytes), c.sha256])));
    lines.push('(a clip starts at the keyframe at or before the time asked: EARLIER says by how much)');
  }
  if (i.gaps.length > 0) {
    lines.push('', 'Gaps in the range (no footage there, never papered over in the clips):');
    lines.push(table(['CAMERA', 'START', 'END', 'CAUSE'], i.gaps.map((g) => [g.camera, time(g.start), g.end === null ? '(ongoing)' : time(g.end), g.cause])));
  }
  return lines.join('\n');
}

/** Progress of a long isolate on the terminal (stderr): bytes and segments done of all. */
function progressLine(data: unknown): void {
  if (!process.stderr.isTTY || typeof data !== 'object' || data === null) return;
  const n = (k: string): number => Number(Reflect.get(data, k) ?? 0);
  process.stderr.write(`\rcutting clips: ${n('segmentsDone')}/${n('segments')} segments, ${formatBytes(n('bytesDone'))} of ${formatBytes(n('bytes'))}   `);
}

export function registerIncidents(program: Command): void {
  program
    .command('isolate')
    .description('opens an incident: holds the footage of one or more cameras in a range and cuts a clip of each, without re-encoding')
    .requiredOption('--camera <name>', 'a camera (repeat for several)', collect, [])
    .requiredOption('--from <time>', 'start: ISO 8601 with a zone, -15m, or now (for live footage)')
    .option('--to <time>', 'end (in the future: footage is collected as it is recorded until then)')
    .option('--for <duration>', 'instead of --to: how long from --from (30s, 15m, 2h)')
    .addOption(new Option('--purpose <purpose>', 'why the footage is isolated (policy §5)').choices(PURPOSES).makeOptionMandatory())
    .requiredOption('--requested-by <name>', 'the authorised person who asked for it (policy §3)')
    .option('--note <text>', 'what happened, for whoever reads the incident later')
    .option('--patron <id>', "a patron record id from the library's patron database (repeat for several)", collect, [])
    .addHelpText(
      'after',
      '\nThe footage is held (no prune, disk guard or repair deletes it) until the incident is released.\n' +
        'Each clip starts at the keyframe at or before --from; gaps in the range (a pause, a camera lost)\n' +
        'are listed with their cause and stay gaps in the clip. Isolating is archival access: it is in the\n' +
        'audit trail and the Library Director is e-mailed.\n\n' +
        `Purposes: ${PURPOSES.join(', ')}.\n\n` +
        'Examples:\n  libcam isolate --camera lobby --camera stacks --from 2026-11-28T14:00:00-06:00 --for 20m \\\n' +
        '    --purpose crime-investigation --requested-by "J. Rivera, Director" --note "wallet theft" --patron P-1042\n' +
        '  libcam isolate --camera lobby --from now --for 30m --purpose security-risk --requested-by "J. Rivera"',
    )
    .action(async (opts: IsolateOptions, command: Command) => {
      const { client, json, time } = contextOf(command);
      if (opts.requestedBy.trim() === '') throw new LibcamError('usage', '--requested-by: name the person who asked for it', { flag: '--requested-by' });
      if ((opts.to === undefined) === (opts.for === undefined)) throw new LibcamError('usage', 'give --to TIME or --for DURATION (one of them)', { flag: '--to' });
      const bad = opts.patron.find((p) => !new RegExp(PATRON_PATTERN).test(p));
      if (bad !== undefined) {
        throw new LibcamError('usage', `--patron: ${JSON.stringify(bad)} is not a patron record id (letters, digits and dashes, at most 32)`, { flag: '--patron' });
      }
      const now = Date.now();
      const from = parseTime(opts.from, '--from', now);
      let to: number;
      if (opts.for !== undefined) {
        const ms = parseDuration(opts.for);
        if (ms === undefined || ms <= 0) throw new LibcamError('usage', `--for: "${opts.for}" is not a duration (30s, 15m, 2h)`, { flag: '--for' });
        to = from + ms;
      } else to = parseTime(opts.to ?? '', '--to', now);
      const result = await client.call(
        'isolate',
        {
          cameras: opts.camera,
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
          purpose: opts.purpose,
          requestedBy: opts.requestedBy,
          ...(opts.note === undefined ? {} : { note: opts.note }),
          ...(opts.patron.length > 0 ? { patrons: opts.patron } : {}),
        },
        json ? undefined : progressLine,
      );
      if (!json && process.stderr.isTTY) process.stderr.write('\n');
      if (json) return printJson(result);
      printText(`${renderIncident(result.incident, time)}\n\nThe Library Director will be notified.`);
    });

  const incidents = program.command('incidents').description('incidents: what is isolated and held, its clips, and its release');
  incidents
    .command('list')
    .description('incidents not yet released (--all: every incident ever opened)')
    .option('--open', 'only incidents not released (the default)')
    .option('--all', 'released ones too')
    .action(async (opts: { open?: boolean; all?: boolean }, command: Command) => {
      const { client, json, time } = contextOf(command);
      const list = await client.call('incidents.list', opts.all === true ? { all: true } : {});
      if (json) return printJson(list);
      if (list.length === 0) return printText(opts.all === true ? 'no incidents' : 'no open incidents (--all lists released ones too)');
      printText(table(['ID', 'CREATED', 'PURPOSE', 'CAMERAS', 'FROM', 'TO', 'STATE'], list.map((i) => [i.id, time(i.created), i.purpose, i.cameras.join(','), time(i.from), time(i.to), i.state])));
    });
  incidents
    .command('show')
    .argument('<id>', 'the incident, such as INC-20261128-001')
    .description('one incident: cameras, range, who asked, patron ids, holds, clips with hashes and true ranges, gaps (audited)')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { client, json, time } = contextOf(command);
      const incident = await client.call('incidents.show', { id });
      if (json) printJson(incident);
      else printText(renderIncident(incident, time));
    });
  incidents
    .command('release')
    .argument('<id>', 'the incident')
    .description('ends the incident: its holds are released (the footage then ages out as usual) and its clips deleted; the record and its audit entries stay')
    .requiredOption('--requested-by <name>', 'the authorised person who decided it')
    .requiredOption('--note <text>', 'why it is released')
    .action(async (id: string, opts: { requestedBy: string; note: string }, command: Command) => {
      const { client, json, time } = contextOf(command);
      const incident = await client.call('incidents.release', { id, requestedBy: opts.requestedBy, note: opts.note });
      if (json) printJson(incident);
      else printText(`${renderIncident(incident, time)}\n\nThe Library Director will be notified.`);
    });
}
