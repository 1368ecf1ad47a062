import { resolve } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import { asLibcamError, exitStatusFor } from '../errors.js';
import { killAfter } from './hardStop.js';
import { createLogger } from '../log.js';
import { VERSION } from '../version.js';
import { Daemon } from './daemon.js';
import { makeCamera } from './makeCamera.js';

const GRACEFUL_STOP_LIMIT_MS = 20_000;

function fail(message: string, status: number): never {
  process.stderr.write(`libcamd: ${message}\n`);
  process.exit(status);
}

async function main(): Promise<void> {
  const program = new Command('libcamd')
    .description('The libcam recording daemon: records the configured cameras and serves the libcam control socket.')
    .option('-c, --config <file>', 'configuration file', '/etc/libcam/libcam.yaml')
    .version(VERSION)
    .showHelpAfterError()
    .parse();
  const configFile = resolve(program.opts<{ config: string }>().config);

  let config: Config;
  try {
    config = loadConfig(configFile);
  } catch (err) {
    const error = asLibcamError(err, 'loading the configuration');
    fail(error.message, exitStatusFor(error.code));
  }

  const log = createLogger(config.log.level);
  const daemon = new Daemon({ config, configFile, log, makeCamera });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('graceful shutdown took too long; exiting');
      process.exit(1);
    }, GRACEFUL_STOP_LIMIT_MS).unref();
    killAfter(GRACEFUL_STOP_LIMIT_MS + 5000); // if even that timer cannot run
    daemon.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A bug must not leave a half-dead daemon (seen: a main thread parked in process.exit
  // while GStreamer went on writing files nobody indexed): say what happened, exit, and if
  // even exiting hangs, be killed; systemd restarts libcamd and recovery indexes the files.
  const die = (what: string) => (err: unknown) => {
    log.fatal({ err }, `${what}: libcamd stops; it is restarted and recovers what was written`);
    killAfter(2000);
    process.exit(70);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));

  try {
    await daemon.start();
  } catch (err) {
    const error = asLibcamError(err, 'starting');
    log.fatal({ err: error }, 'libcamd cannot start');
    await daemon.stop();
    fail(error.message, exitStatusFor(error.code));
  }
}

await main();
