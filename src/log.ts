import { pino, type Logger } from 'pino';

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

/** JSON lines on stdout (journald keeps them), secrets redacted. */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino({ level, base: { name: 'libcamd' }, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

/** A camera URL fit for logs, status and errors: any `user:pass@` is removed. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/\s]*@/i, '$1');
}

/** Any URLs inside free text (GStreamer error details, say) with their `user:pass@` removed. */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s]*@/gi, '$1');
}
