// Embedded PostgreSQL (PGlite) driver: one in-process database persisted under DATA_DIR.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { Driver, Sql } from './sql.js';

/**
 * shared_buffers of the embedded database, in MB. PostgreSQL's default (128 MB) is resident in PGlite's WASM memory
 * from the start: 16 MB cut an idle gateway's RSS by about 150 MB here (docs/performance.md, `idle-memory`), and a
 * single-process database on a small machine reads the rest through the operating system's page cache.
 */
export const PGLITE_DEFAULT_SHARED_BUFFERS_MB = 16;

/** Opens PGlite at `dataDir` (created if missing), or in memory when dataDir is undefined. */
export async function createPgliteDriver(
  dataDir: string | undefined,
  opts: { loadDataDir?: Blob; sharedBuffersMb?: number } = {},
): Promise<Driver> {
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initInChild(dataDir);
  }
  const db = new PGlite({
    dataDir,
    loadDataDir: opts.loadDataDir,
    // A start parameter, not `postgresqlconf` (which rewrites the data directory's postgresql.conf as a whole).
    startParams: [
      ...PGlite.defaultStartParams,
      '-c',
      `shared_buffers=${opts.sharedBuffersMb ?? PGLITE_DEFAULT_SHARED_BUFFERS_MB}MB`,
    ],
  });
  await db.waitReady;
  return wrapPglite(db);
}

/**
 * Runs initdb for a new data directory in a child process (pglite-init.ts), so its transient buffers die with that
 * process: the gateway's first start then idles at the footprint of every later start (about 250 MB instead of
 * about 700 MB here). If the child cannot run (e.g. no TypeScript loader inside a test runner), PGlite runs initdb
 * in this process as before.
 */
async function initInChild(dataDir: string): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const script = join(self, '..', `pglite-init${extname(self)}`);
  // The loader flags (tsx in development) carry over; a debugger or profiler flag does not.
  const flags = process.execArgv.filter((a) => !/^--(inspect|cpu-prof|heap-prof|prof)/.test(a));
  await new Promise<void>((resolve) => {
    execFile(process.execPath, [...flags, script, dataDir], { timeout: 120_000 }, () => resolve());
  });
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
