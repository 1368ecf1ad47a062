import type { Command } from 'commander';
import { Client, DEFAULT_SOCKET } from './client.js';
import { showTime, type ShowTime } from './time.js';

export interface GlobalOptions {
  socket?: string;
  json?: boolean;
  utc?: boolean;
}

/** What every command handler gets: the global flags and a client on the right socket. */
export interface CliContext {
  json: boolean;
  client: Client;
  /** Times in human output: local with the zone, or UTC with --utc. */
  time: ShowTime;
  /** The same with milliseconds, for segment boundaries. */
  timeMs: ShowTime;
}

export function contextOf(command: Command): CliContext {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const socket = opts.socket ?? process.env['LIBCAM_SOCKET'] ?? DEFAULT_SOCKET;
  const utc = opts.utc === true;
  return { json: opts.json === true, client: new Client(socket), time: showTime(utc), timeMs: showTime(utc, true) };
}
