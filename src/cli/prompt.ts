import { createInterface, type Interface } from 'node:readline';
import { LibcamError } from '../errors.js';

/**
 * Passphrases and passwords, as docs/cli.md says: from the terminal without echo, or —
 * where there is no terminal (scripts, tests) — one per line from standard input, in the
 * order the command asks for them. Never from arguments, never logged.
 */
let lines: Interface | undefined;
const queued: string[] = [];
let waiting: ((line: string | undefined) => void)[] = [];
let ended = false;

function stdinLines(): void {
  if (lines) return;
  lines = createInterface({ input: process.stdin, terminal: false });
  lines.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else queued.push(line);
  });
  lines.on('close', () => {
    ended = true;
    for (const w of waiting) w(undefined);
    waiting = [];
  });
}

function nextLine(): Promise<string | undefined> {
  stdinLines();
  const line = queued.shift();
  if (line !== undefined) return Promise.resolve(line);
  if (ended) return Promise.resolve(undefined);
  return new Promise((resolve) => waiting.push(resolve));
}

/** Reads one secret: on a terminal without echo (the prompt on stderr), else the next line of stdin. */
export async function readSecret(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const line = await nextLine();
    if (line === undefined) throw new LibcamError('usage', `${prompt.replace(/:\s*$/, '')}: no terminal, and standard input ended before it was given`, { prompt });
    return line;
  }
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: string): void => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return resolve(typed);
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return reject(new LibcamError('usage', 'cancelled'));
          }
          if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
          else typed += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

/** A new secret, asked twice; refused when the two differ. */
export async function readNewSecret(prompt: string, again: string): Promise<string> {
  const first = await readSecret(prompt);
  const second = await readSecret(again);
  if (first !== second) throw new LibcamError('usage', 'the two entries differ; nothing was changed', {});
  return first;
}
