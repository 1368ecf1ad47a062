import { Command, Option } from 'commander';
import { VERSION } from '../version.js';
import { registerApprovers } from './commands/approvers.js';
import { registerAudit } from './commands/audit.js';
import { registerCameras } from './commands/cameras.js';
import { registerConfig } from './commands/config.js';
import { registerDoctor } from './commands/doctor.js';
import { registerExport } from './commands/export.js';
import { registerPause } from './commands/pause.js';
import { registerRecordings } from './commands/recordings.js';
import { registerHolds } from './commands/holds.js';
import { registerIncidents } from './commands/incidents.js';
import { registerStatus } from './commands/status.js';
import { registerStill } from './commands/still.js';
import { registerStore } from './commands/store.js';
import { registerStaff } from './commands/staff.js';
import { registerVerify } from './commands/verify.js';

/** The `libcam` command tree; handlers only parse, call the daemon and print. */
export function buildProgram(): Command {
  const program = new Command('libcam')
    .description('Control the libcam recording daemon (libcamd) over its Unix socket.')
    .addOption(new Option('--socket <path>', 'control socket (default: $LIBCAM_SOCKET, else /run/libcam/libcam.sock)'))
    .option('--json', 'print one JSON document on stdout and nothing else there (times always ISO 8601 UTC)')
    .option('--utc', "human output: times in UTC instead of the box's local time")
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      '\nExit status: 0 done, 1 the operation failed, 2 bad usage or input, 3 the daemon cannot be reached, 4 verify found the bundle invalid.',
    );
  registerStatus(program);
  registerCameras(program);
  registerRecordings(program);
  registerStill(program);
  registerPause(program);
  registerStore(program);
  registerHolds(program);
  registerIncidents(program);
  registerApprovers(program);
  registerExport(program);
  registerVerify(program);
  registerStaff(program);
  registerAudit(program);
  registerConfig(program);
  registerDoctor(program);
  return program;
}
