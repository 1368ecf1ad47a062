import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';
import { parseTime } from '../time.js';

export function registerHolds(program: Command): void {
  const holds = program.command('holds').description('footage that retention, the disk guard and fsck --repair may never delete');
  holds
    .command('list')
    .description('every hold: camera, time range, reason')
    .action(async (_opts: unknown, command: Command) => {
      const { client, json, time } = contextOf(command);
      const list = await client.call('holds.list', {});
      if (json) return printJson(list);
      if (list.length === 0) return printText('no holds');
      printText(table(['ID', 'CAMERA', 'FROM', 'TO', 'REASON'], list.map((h) => [h.id, h.camera, time(h.from), time(h.to), h.reason])));
    });
  holds
    .command('place')
    .description("holds one camera's footage in a time range (incidents place their own holds)")
    .requiredOption('--camera <name>', 'the camera')
    .requiredOption('--from <time>', 'start of the held range')
    .requiredOption('--to <time>', 'end of the held range (may be in the future)')
    .requiredOption('--reason <text>', 'why, for whoever finds the hold later')
    .addHelpText('after', '\nTimes: ISO 8601 with a zone, now, or relative (-15m, -2h, -1d).')
    .action(async (opts: { camera: string; from: string; to: string; reason: string }, command: Command) => {
      const { client, json, time } = contextOf(command);
      const now = Date.now();
      const hold = await client.call('holds.place', {
        camera: opts.camera,
        from: new Date(parseTime(opts.from, '--from', now)).toISOString(),
        to: new Date(parseTime(opts.to, '--to', now)).toISOString(),
        reason: opts.reason,
      });
      if (json) printJson(hold);
      else printText(`hold ${hold.id} placed on ${hold.camera} from ${time(hold.from)} to ${time(hold.to)}`);
    });
  holds
    .command('release')
    .argument('<id>', 'the hold, as `libcam holds list` shows it')
    .description('releases a hold: its footage ages out under retention again')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const result = await client.call('holds.release', { id });
      if (json) printJson(result);
      else printText(`hold ${result.released} released`);
    });
}
