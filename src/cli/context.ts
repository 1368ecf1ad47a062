import type { Command } from 'commander';
import { Client, DEFAULT_SOCKET } from './client.js';

export interface GlobalOptions {
  socket?: string;
  json?: boolean;
}

/** What every command handler gets: the global flags and a client on the right socket. */
export interface CliContext {
  json: boolean;
  client: Client;
}

export function contextOf(command: Command): CliContext {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const socket = opts.socket ?? process.env['LIBCAM_SOCKET'] ?? DEFAULT_SOCKET;
  return { json: opts.json === true, client: new Client(socket) };
}
