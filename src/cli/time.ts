import { LibcamError } from '../errors.js';
import { parseDuration } from '../config/units.js';

/**
 * A time as docs/cli.md writes it: ISO 8601 with `Z` or an offset, `now`, or relative to now
 * (`-15m`, `-2h`, `-1d`). Times without a zone are refused: on a box whose clock is UTC
 * and a user who thinks in local time, guessing would silently shift the range.
 */
export function parseTime(text: string, flag: string, now = Date.now()): number {
  const trimmed = text.trim();
  if (trimmed === 'now') return now;
  if (trimmed.startsWith('-')) {
    const ms = parseDuration(trimmed.slice(1));
    if (ms !== undefined) return now - ms;
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(trimmed)) {
    const ms = Date.parse(trimmed);
    if (Number.isFinite(ms)) return ms;
  }
  throw new LibcamError(
    'usage',
    `${flag}: "${text}" is not a time; use ISO 8601 with a zone (2026-11-28T14:05:00Z, 2026-11-28T08:05:00-06:00), now, or -15m / -2h / -1d`,
    { flag, value: text },
  );
}

/** How a human table writes a time: the box's local time with its zone, or UTC with --utc. */
export type ShowTime = (iso: string) => string;

/**
 * `2026-11-29 11:16:14 CST` (local) or `2026-11-29 17:16:14 UTC` (--utc); with `ms`, the
 * milliseconds too (segment boundaries). `--json` never uses this: it stays ISO 8601 UTC.
 */
export function showTime(utc: boolean, ms = false): ShowTime {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: utc ? 'UTC' : undefined,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
    ...(ms ? { fractionalSecondDigits: 3 } : {}),
  });
  return (iso) => {
    const when = Date.parse(iso);
    if (!Number.isFinite(when)) return iso;
    const p = Object.fromEntries(format.formatToParts(when).map((part) => [part.type, part.value]));
    const fraction = ms ? `.${p['fractionalSecond'] ?? '000'}` : '';
    return `${p['year']}-${p['month']}-${p['day']} ${p['hour']}:${p['minute']}:${p['second']}${fraction} ${p['timeZoneName'] ?? ''}`.trimEnd();
  };
}
