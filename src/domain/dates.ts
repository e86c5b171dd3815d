// Date-time input: strict ISO 8601 or Unix time, only real calendar dates in years 0001–9999 (what PostgreSQL and JS agree on).

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?$/;

const daysIn = (y: number, m: number): number =>
  m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;

/** The earliest and latest instants accepted: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z. */
export const MIN_DATE_MS = new Date(0).setUTCFullYear(1, 0, 1);
export const MAX_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Parses a date-time given by a client: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z` or `±HH:MM` (UTC when
 * no offset is given), or Unix time as 10 digits (seconds) or 11–13 digits (milliseconds). Returns null for anything
 * else, for dates that do not exist (2023-02-29, 24:00:01) and for instants outside years 0001–9999 once the offset
 * is applied — so the result always fits a PostgreSQL timestamptz and `toISOString()` gives a plain 4-digit year.
 */
export function parseDateTimeInput(text: string): Date | null {
  let ms: number;
  if (/^\d{10}$/.test(text)) ms = Number(text) * 1000;
  else if (/^\d{11,13}$/.test(text)) ms = Number(text);
  else {
    const m = ISO.exec(text);
    if (!m) return null;
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const [h, mi, s] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
    const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return null;
    const offH = Number(m[10] ?? 0);
    const offM = Number(m[11] ?? 0);
    if (offH > 23 || offM > 59) return null;
    const offset = (m[9] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
    const at = new Date(0);
    at.setUTCFullYear(y, mo - 1, d);
    at.setUTCHours(h, mi, s, Math.floor(frac));
    ms = at.getTime() - offset;
  }
  if (!Number.isFinite(ms) || ms < MIN_DATE_MS || ms > MAX_DATE_MS) return null;
  return new Date(ms);
}
