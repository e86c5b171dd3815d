// Embedded PostgreSQL (PGlite) driver: one in-process database persisted under DATA_DIR.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Driver, Sql } from './sql.js';

/** Opens PGlite at `dataDir` (created if missing), or in memory when dataDir is undefined. */
export async function createPgliteDriver(
  dataDir: string | undefined,
  opts: { loadDataDir?: Blob } = {},
): Promise<Driver> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = new PGlite(dataDir, { loadDataDir: opts.loadDataDir });
  await db.waitReady;
  return wrapPglite(db);
}

function normalise<T>(rows: unknown[]): T[] {
  // PGlite returns bigint columns as number (BigInt above 2^53): normalise to number like the pg driver.
  for (const row of rows as Record<string, unknown>[]) {
    for (const k of Object.keys(row)) if (typeof row[k] === 'bigint') row[k] = Number(row[k]);
  }
  return rows as T[];
}

/** Wraps an open PGlite instance as a Driver. */
export function wrapPglite(db: PGlite): Driver {
  return {
    kind: 'pglite',
    query: async (text, params) => normalise((await db.query(text, params as unknown[])).rows),
    transaction: (fn) =>
      db.transaction(async (tx) => {
        const sql: Sql = {
          query: async (text, params) => normalise((await tx.query(text, params as unknown[])).rows),
        };
        return fn(sql);
      }),
    close: () => db.close(),
  };
}
