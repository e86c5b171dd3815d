// Test databases: a fresh schema on real PostgreSQL (TEST_DATABASE_URL) or an in-memory PGlite otherwise.
import { randomBytes } from 'node:crypto';
import type { Store } from '../../src/ports/store.js';
import { migrate } from '../../src/storage/migrate.js';
import { createPgDriver } from '../../src/storage/pg-driver.js';
import { createPgliteDriver } from '../../src/storage/pglite-driver.js';
import type { Driver } from '../../src/storage/sql.js';
import { createSqlStore } from '../../src/storage/sql-store.js';

export interface TestDb {
  kind: 'postgres' | 'pglite';
  store: Store;
  driver: Driver;
  schema: string;
  /** The connection string when on PostgreSQL (for child processes), else undefined. */
  url: string | undefined;
  close(): Promise<void>;
}

/** Which backends to run a contract suite on: always PGlite, and PostgreSQL when TEST_DATABASE_URL is set. */
export function testBackends(): Array<'pglite' | 'postgres'> {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** The default backend for a test: PostgreSQL when TEST_DATABASE_URL is set, otherwise PGlite. */
export function defaultBackend(): 'pglite' | 'postgres' {
  return process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
}

export async function openTestDb(kind: 'pglite' | 'postgres' = defaultBackend()): Promise<TestDb> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  if (kind === 'postgres') {
    const url = process.env.TEST_DATABASE_URL;
    if (!url) throw new Error('TEST_DATABASE_URL is not set');
    const driver = createPgDriver({ url, ssl: false, poolSize: 5 });
    await migrate(driver, schema);
    return {
      kind,
      store: createSqlStore(driver, schema),
      driver,
      schema,
      url,
      close: async () => {
        await driver.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch((err: Error) => {
          process.stderr.write(`test db: could not drop schema ${schema} (left behind): ${err.message}\n`);
        });
        await driver.close();
      },
    };
  }
  const driver = await createPgliteDriver(undefined);
  await migrate(driver, schema);
  return {
    kind,
    store: createSqlStore(driver, schema),
    driver,
    schema,
    url: undefined,
    close: () => driver.close(),
  };
}
