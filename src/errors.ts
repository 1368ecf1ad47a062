/**
 * The one error type of libcam. Every failure that reaches a user carries a code from
 * the closed set below; `exitStatusFor` is the single place that maps a code to the
 * CLI's exit status (docs/cli.md), and the socket carries the code as it is.
 */
export const ERROR_CODES = [
  'usage', // bad command line or request shape
  'invalid-input', // a value that is well-formed but not acceptable (unknown camera, future time)
  'invalid-config', // the configuration file does not validate
  'not-found', // the thing named does not exist
  'conflict', // the operation clashes with current state (store in use, socket taken)
  'too-large', // a request line over the limit
  'busy', // the daemon is answering as many requests or connections as it takes: try again shortly
  'unavailable', // the daemon cannot be reached
  'io', // the filesystem or a device failed
  'environment', // this machine lacks something libcam needs (a GStreamer element, a package)
  'internal', // a bug: the message says what was being done
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  [key: string]: unknown;
}

export class LibcamError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LibcamError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return ERROR_CODES.some((code) => code === value);
}

/** Exit statuses of docs/cli.md: 1 failed, 2 bad usage or input, 3 no daemon, 4 invalid bundle. */
export function exitStatusFor(code: ErrorCode): 1 | 2 | 3 {
  switch (code) {
    case 'usage':
    case 'invalid-input':
    case 'invalid-config':
    case 'not-found':
    case 'too-large':
      return 2;
    case 'unavailable':
      return 3;
    case 'conflict':
    case 'busy':
    case 'io':
    case 'environment':
    case 'internal':
      return 1;
  }
}

/** Wraps anything thrown into a LibcamError without losing the original as `cause`. */
export function asLibcamError(err: unknown, what: string): LibcamError {
  if (err instanceof LibcamError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const sysCode = errnoOf(err);
  return new LibcamError(sysCode ? 'io' : 'internal', `${what}: ${message}`, sysCode ? { errno: sysCode } : {}, { cause: err });
}

/** The `code` of a Node.js system error (`ENOENT`, `EACCES`…), if it is one. */
export function errnoOf(err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
