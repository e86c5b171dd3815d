// Opens the configured store: PostgreSQL when DATABASE_URL is set, embedded PGlite under DATA_DIR otherwise.
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { Store } from '../ports/store.js';
import { migrate } from './migrate.js';
import { createPgDriver } from './pg-driver.js';
import { createPgliteDriver } from './pglite-driver.js';
import type { Driver } from './sql.js';
import { createSqlStore } from './sql-store.js';

export async function openDriver(
  db: Config['database'],
  onConnectionError?: (err: Error) => void,
): Promise<Driver> {
  return db.url
    ? createPgDriver({ url: db.url, ssl: db.ssl, poolSize: db.poolSize, onConnectionError })
    : createPgliteDriver(join(db.dataDir, 'pglite'));
}

/** Opens the store and, unless told otherwise, applies pending migrations. */
export async function openStore(
  db: Config['database'],
  opts: { migrate?: boolean; onConnectionError?: (err: Error) => void } = {},
): Promise<{ store: Store; driver: Driver; applied: string[] }> {
  const driver = await openDriver(db, opts.onConnectionError);
  const applied = opts.migrate === false ? [] : await migrate(driver, db.schema);
  return { store: createSqlStore(driver, db.schema), driver, applied };
}
