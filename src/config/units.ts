/**
 * Durations (`30s`, `15m`, `2h`, `30d`) and sizes (`500MB`, `2TB`, `1.5GiB`) as the
 * configuration and the CLI write them. Sizes use decimal units (KB = 1000) as disks
 * are sold; the binary ones (KiB = 1024) are accepted too.
 */
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$';

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_BYTES: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

function parseUnit(text: string, pattern: string, units: Record<string, number>): number | undefined {
  if (!new RegExp(pattern).test(text)) return undefined;
  const match = /^([0-9.]+)([A-Za-z]+)$/.exec(text);
  const factor = match?.[2] === undefined ? undefined : units[match[2]];
  if (match?.[1] === undefined || factor === undefined) return undefined;
  return Math.round(Number(match[1]) * factor);
}

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  return parseUnit(text, DURATION_PATTERN, DURATION_MS);
}

/** Bytes, or undefined when `text` is not a size. */
export function parseSize(text: string): number | undefined {
  return parseUnit(text, SIZE_PATTERN, SIZE_BYTES);
}

/** `90061000` → `1d1h1m1s`: for messages and status lines. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  let rest = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, secs] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / secs);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * secs;
  }
  return parts.join('');
}

/** `2000000000000` → `2.0 TB`: for human output. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}
