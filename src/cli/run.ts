import { CommanderError } from 'commander';
import { asLibcamError, exitStatusFor } from '../errors.js';
import { buildProgram } from './program.js';

/** Runs `libcam` with these arguments, mapping every failure to the exit statuses of docs/cli.md in this one place. */
export async function runLibcam(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0; // a command may end with 1 (fsck found problems)
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version end through here too, with exitCode 0; usage errors were printed by commander
      return err.exitCode === 0 ? 0 : 2;
    }
    const error = asLibcamError(err, 'libcam');
    const json = program.opts<{ json?: boolean }>().json === true;
    if (error.details['reported'] !== true) {
      if (json) process.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
      process.stderr.write(`libcam: ${error.message}\n`);
    }
    return exitStatusFor(error.code);
  }
}
