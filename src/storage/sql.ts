// The minimal SQL surface both drivers (pg and PGlite) provide: parameterised queries and transactions.
import type { SqlRunner } from '../ports/store.js';

/** Runs one parameterised statement ($1, $2 …) and returns its rows. Never a named prepared statement. */
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
