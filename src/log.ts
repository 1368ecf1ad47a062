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

/**
 * A secret as camera URLs carry one outside the user:password@ part, wherever it is: in the
 * query (`?password=`, `?loginPassword=`), in the path (`/user=admin&password=…&channel=1`,
 * an XMEye form), after `;` or `#`. Group 1 is the name and `=`, group 2 the value.
 */
export const SECRET_PARAM = /([?&;#/](?:[a-z_]*pass(?:word|wd)?|pwd|psw|pw|authbasic|token|secret|api_?key)=)([^&;#/?\s]*)/gi;

/** Whether a URL holds a password: in user:password@ (parsed or not) or as a parameter. */
export function urlHasSecret(url: string): boolean {
  SECRET_PARAM.lastIndex = 0;
  return /^[a-z][a-z0-9+.-]*:\/\/[^/\s]*:[^/\s]*@/i.test(url) || SECRET_PARAM.test(url);
}

/**
 * A camera URL fit for logs, status and errors: read with a URL parser, its user and
 * password are removed; secret parameters are blanked wherever they are. What does not
 * parse as a URL loses everything up to an `@` after the scheme.
 */
export function redactUrl(url: string): string {
  let text: string;
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    text = parsed.toString();
  } catch {
    text = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/\s]*@/i, '$1');
  }
  return text.replace(SECRET_PARAM, '$1redacted');
}

/** Any URLs inside free text (GStreamer error details, say), each redacted as redactUrl does. */
export function redactUrls(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (url) => redactUrl(url));
}
