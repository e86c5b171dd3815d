// The minimal SQL surface both drivers (pg and PGlite) provide: parameterised queries and transactions.
import { SbError } from '../domain/errors.js';
/** Runs one parameterised statement ($1, $2 …) and returns its rows. Never a named prepared statement. */
export interface SqlRunner {
  query<T = Record<string, any>>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

export type Sql = SqlRunner;

export interface Driver extends Sql {
  readonly kind: 'postgres' | 'pglite';
  transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Quotes an SQL identifier (schema names come from config, but quote anyway). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** SQLSTATEs meaning "the server went away or will not take us now" (not "the statement is wrong"). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P01|57P02|57P03|53300)$/;
/** Socket-level failures reaching the database. */
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** Messages `pg` and `pg-pool` use for a lost connection or an exhausted pool (they carry no code). */
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Cannot use a pool after calling end on the pool|Query read timeout)$/;

/**
 * True when the error means the database cannot be reached right now (connection refused or lost, server
 * shutting down or starting, pool timeout) — the one place that decides it. Follows `cause` and AggregateErrors.
 */
export function isConnectionError(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATE.test(e.code) || UNAVAILABLE_ERRNO.has(e.code)))
    return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isConnectionError(x, depth + 1))) return true;
  return isConnectionError(e.cause, depth + 1);
}

/** Seconds a client is told to wait (Retry-After) when the database is unavailable. */
export const DB_RETRY_AFTER_S = 5;

/** Turns a connection error into `SB_ERR_UNAVAILABLE` (HTTP 503 with Retry-After); other errors pass unchanged. */
export function mapDriverError(err: unknown): unknown {
  if (err instanceof SbError || !isConnectionError(err)) return err;
  return new SbError('SB_ERR_UNAVAILABLE', 'the database is unavailable; retry shortly', {
    cause: err,
    headers: { 'retry-after': String(DB_RETRY_AFTER_S) },
    details: { dependency: 'database' },
  });
}
