import type { Command } from 'commander';
import { readConfigFile } from '../../config/load.js';
import { LibcamError } from '../../errors.js';
import { printJson, printText } from '../output.js';
import type { GlobalOptions } from '../context.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration files');
  config
    .command('check')
    .argument('<file>', 'a libcam.yaml to validate')
    .description('validates a configuration file without a daemon: every problem as "path: message"')
    .addHelpText('after', '\nExit status 0 when the file is valid, 2 when it is not.\n\nExample:\n  libcam config check /etc/libcam/libcam.yaml')
    .action((file: string, _opts: unknown, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      const { config: parsed, problems } = readConfigFile(file);
      if (json) printJson({ ok: problems.length === 0, errors: problems });
      else if (parsed && problems.length === 0) printText(`${file}: valid, ${parsed.cameras.length} camera(s)`);
      else printText(problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
      if (problems.length > 0) {
        throw new LibcamError('invalid-config', `${file} has ${problems.length} problem(s)`, { reported: true });
      }
    });
}
