import type { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { checkFiles, readConfigFile, type DaemonAccount } from '../../config/load.js';
import { LibcamError } from '../../errors.js';
import { printJson, printText } from '../output.js';
import type { GlobalOptions } from '../context.js';

/** The libcam account (libcamd's), as the unit runs it; this account's ids where there is none. */
function daemonAccount(): DaemonAccount {
  try {
    const [, , uid, gid] = execFileSync('getent', ['passwd', 'libcam'], { encoding: 'utf8' }).split(':');
    if (uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  } catch {
    // no libcam account on this machine: judge the files as this account would
  }
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration files');
  config
    .command('check')
    .argument('<file>', 'a libcam.yaml to validate')
    .description('validates a configuration file without a daemon: every problem as "path: message"')
    .addHelpText(
      'after',
      [
        '',
        'Files the configuration names (credentials files) are checked too; a problem with one is',
        'a warning here, because this machine may not be the appliance, but libcamd refuses to',
        'start with it.',
        '',
        'Exit status 0 when the file is valid, 2 when it is not.',
        '',
        'Example:',
        '  libcam config check /etc/libcam/libcam.yaml',
      ].join('\n'),
    )
    .action((file: string, _opts: unknown, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      const { config: parsed, problems } = readConfigFile(file);
      const warnings = parsed ? checkFiles(parsed, daemonAccount()) : [];
      const lines = (list: typeof problems, prefix: string): string[] => list.map((p) => `${prefix}${p.path}: ${p.message}`);
      if (json) printJson({ ok: problems.length === 0, errors: problems, warnings });
      else if (parsed) printText([`${file}: valid, ${parsed.cameras.length} camera(s)`, ...lines(warnings, 'warning: ')].join('\n'));
      else printText(lines(problems, '').join('\n'));
      if (problems.length > 0) {
        throw new LibcamError('invalid-config', `${file} has ${problems.length} problem(s)`, { reported: true });
      }
    });
}
