import { LibcamError } from '../errors.js';
import { parseDuration } from '../config/units.js';

/**
 * A time as CLI.md writes it: ISO 8601 with `Z` or an offset, `now`, or relative to now
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
