import { readFile } from 'node:fs/promises';
import { LibcamError, errnoOf } from '../errors.js';

export interface Credentials {
  user: string;
  password: string;
}

/** `user:password` on the first line, split at the first colon; read on every connect so a new password needs no restart. */
export async function readCredentials(file: string): Promise<Credentials> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new LibcamError('io', `cannot read the credentials file ${file} (${errnoOf(err) ?? 'error'})`, { file });
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  const colon = line.indexOf(':');
  if (colon < 1) throw new LibcamError('invalid-config', `credentials file ${file} must hold user:password on its first line`, { file });
  return { user: line.slice(0, colon), password: line.slice(colon + 1) };
}
