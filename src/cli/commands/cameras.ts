import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';

export function registerCameras(program: Command): void {
  const cameras = program.command('cameras').description('the configured cameras');
  cameras
    .command('list')
    .description('configured cameras, their sources and states (credentials are never shown)')
    .action(async (_opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const list = await client.call('cameras.list', {});
      if (json) return printJson(list);
      if (list.length === 0) return printText('no cameras configured');
      printText(table(['CAMERA', 'KIND', 'SOURCE', 'STATE'], list.map((c) => [c.name, c.source.kind, c.source.url, c.state])));
    });
}
