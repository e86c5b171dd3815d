// Retry policy: the configured schedule with jitter, and `Retry-After` for 429/503.

/**
 * Delay before the next attempt after `attempts` attempts have been made, or null when the schedule is exhausted.
 * `scheduleMs[0]` is the first attempt (normally 0); `scheduleMs[n]` the wait after the n-th failure. Jitter is
 * ±10 % (`random` in [0, 1), 0.5 = none).
 */
export function nextDelayMs(
  attempts: number,
  scheduleMs: readonly number[],
  random: () => number,
): number | null {
  if (attempts >= scheduleMs.length) return null;
  const base = scheduleMs[attempts];
  return Math.max(0, Math.round(base * (0.9 + 0.2 * random())));
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`; null when absent or invalid. */
export function retryAfterMs(header: string | undefined, now: Date): number | null {
  if (!header) return null;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}

/** Retry-After is honoured up to this long (1 day), so a hostile receiver cannot park deliveries forever. */
export const MAX_RETRY_AFTER_MS = 86_400_000;
