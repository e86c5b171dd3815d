// Opens the configured store: PostgreSQL when DATABASE_URL is set, embedded PGlite under DATA_DIR otherwise.
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { Store } from '../ports/store.js';
import { lockDataDir } from './data-dir-lock.js';
import { migrate } from './migrate.js';
import { createPgDriver } from './pg-driver.js';
import { createPgliteDriver } from './pglite-driver.js';
import type { Driver } from './sql.js';
import { createSqlStore } from './sql-store.js';

/**
 * Opens the database. The embedded one is locked first (DATA_DIR has one owner: a second server, or a CLI write
 * beside a running server, fails at once with SB_ERR_DATA_DIR_LOCKED); closing the driver releases the lock.
 */
export async function openDriver(
  db: Config['database'],
  what?: string,
  onConnectionError?: (err: Error) => void,
): Promise<Driver> {
  if (db.url) return createPgDriver({ url: db.url, ssl: db.ssl, poolSize: db.poolSize, onConnectionError });
  const lock = lockDataDir(db.dataDir, what);
  let driver: Driver;
  try {
    driver = await createPgliteDriver(join(db.dataDir, 'pglite'), {
      sharedBuffersMb: db.pgliteSharedBuffersMb,
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  return {
    ...driver,
    close: async () => {
      try {
        await driver.close();
      } finally {
        lock.release();
      }
    },
  };
}

/** Opens the store and, unless told otherwise, applies pending migrations. */
export async function openStore(
  db: Config['database'],
  opts: { migrate?: boolean; what?: string; onConnectionError?: (err: Error) => void } = {},
): Promise<{ store: Store; driver: Driver; applied: string[] }> {
  const driver = await openDriver(db, opts.what, opts.onConnectionError);
  const applied = opts.migrate === false ? [] : await migrate(driver, db.schema);
  return { store: createSqlStore(driver, db.schema), driver, applied };
}
