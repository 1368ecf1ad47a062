import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Paths pino blanks out wherever they appear in a log line. */
const REDACT = [
  'password',
  '*.password',
  'credentials',
  '*.credentials',
  'passphrase',
  '*.passphrase',
  'userPw',
  '*.userPw',
];

/**
 * JSON lines on stdout for journald and pipes; on a terminal (scripts/demo, a person
 * running libcamd by hand) lines a person reads, through pino's own pretty printer. Secrets
 * are redacted either way, before the line is formatted.
 */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout, forPerson = destination === process.stdout && process.stdout.isTTY): Logger {
  const options = { level, base: { name: 'libcamd' }, redact: { paths: REDACT, censor: '[redacted]' } };
  if (!forPerson) return pino(options, destination);
  return pino(options, pretty({ destination, colorize: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l o', ignore: 'pid,hostname,name,audit', singleLine: true, sync: true }));
}

/** Query parameters that carry secrets in camera URLs (`?user=admin&password=…`). */
export const SECRET_QUERY = /^(pass(word|wd)?|pwd|pw|token|key|secret|auth)$/i;

/**
 * A camera URL fit for logs, status and errors: read with a URL parser, its user and
 * password are removed and secret query parameters blanked. What does not parse as a URL
 * loses everything up to an `@` after the scheme.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/\s]*@/i, '$1');
  }
  parsed.username = '';
  parsed.password = '';
  for (const key of [...parsed.searchParams.keys()]) if (SECRET_QUERY.test(key)) parsed.searchParams.set(key, 'redacted');
  return parsed.toString();
}

/** Any URLs inside free text (GStreamer error details, say), each redacted as redactUrl does. */
export function redactUrls(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (url) => redactUrl(url));
}
