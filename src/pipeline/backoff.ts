/**
 * Retry delays after a camera drops: 1 s growing by half each time up to 30 s, with
 * ±20 % jitter so that cameras behind one failed switch do not retry in lockstep. The
 * gentle growth keeps recording within a few seconds of a camera that was away briefly.
 */
export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 30_000;
/** After the camera refused our credentials: retried, but slowly. */
export const AUTH_RETRY_MS = 60_000;

export function backoffMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 1.5 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}
