// A terminated PostgreSQL backend (pg_terminate_backend, 57P01) fails only the operation using it, never the process.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgDriver } from './pg-driver.js';
import type { Driver } from './sql.js';

// Runs in the PostgreSQL pass only (vitest.config.ts): it needs a server whose backends can be terminated.
const URL = process.env.TEST_DATABASE_URL!;

describe('pg driver under terminated connections', () => {
  const app = `sb-test-pgdrv-${randomBytes(5).toString('hex')}`;
  const withApp = `${URL}${URL.includes('?') ? '&' : '?'}application_name=${app}`;
  let driver: Driver;
  let admin: pg.Client;
  const unhandled: unknown[] = [];
  const onUncaught = (err: unknown) => unhandled.push(err);

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    driver = createPgDriver({ url: withApp, ssl: false, poolSize: 3 });
    admin = new pg.Client({ connectionString: URL });
    await admin.connect();
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await driver.close();
    await admin.end();
  });

  /** Terminates this test's own sessions only (by application_name), never anyone else's. */
  const killOurs = async () =>
    (
      await admin.query(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [app],
      )
    ).rowCount ?? 0;

  it('names its sessions with the application_name from the URL', async () => {
    await driver.query('SELECT 1');
    const r = await admin.query(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    expect(r.rows[0].n).toBeGreaterThan(0);
  });

  it('a transaction whose backend is terminated rejects with SB_ERR_UNAVAILABLE; the process survives', async () => {
    let inside!: () => void;
    const entered = new Promise<void>((r) => (inside = r));
    const tx = driver.transaction(async (sql) => {
      await sql.query('SELECT 1');
      inside();
      await sql.query('SELECT pg_sleep(5)');
      return 'committed';
    });
    await entered;
    // Let pg_sleep start on the server before the backend is terminated.
    for (let i = 0; i < 50; i++) {
      const r = await admin.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%pg_sleep%'`,
        [app],
      );
      if (r.rows[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await killOurs()).toBeGreaterThan(0);
    await expect(tx).rejects.toMatchObject({ code: 'SB_ERR_UNAVAILABLE' });
    // The 'error' event of the dead client has been emitted by now; give it a turn to surface if unhandled.
    await new Promise((r) => setTimeout(r, 100));
    expect(unhandled).toEqual([]);
    // The pool recovers: the next operations run on fresh connections.
    expect(await driver.transaction(async (sql) => sql.query<{ n: number }>('SELECT 2 AS n'))).toEqual([
      { n: 2 },
    ]);
    expect(await driver.query<{ n: number }>('SELECT 3 AS n')).toEqual([{ n: 3 }]);
  });

  it('idle pooled connections terminated between operations do not crash the process or fail the next query', async () => {
    await Promise.all([driver.query('SELECT 1'), driver.query('SELECT 1'), driver.query('SELECT 1')]);
    expect(await killOurs()).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(unhandled).toEqual([]);
    // A pooled client that died while idle is dropped by the pool; a query may still meet one that has not
    // noticed yet: it fails with SB_ERR_UNAVAILABLE, and the one after succeeds.
    const r = await driver.query<{ n: number }>('SELECT 4 AS n').catch((e: { code?: string }) => e.code);
    expect([[{ n: 4 }], 'SB_ERR_UNAVAILABLE']).toContainEqual(r);
    expect(await driver.query<{ n: number }>('SELECT 5 AS n')).toEqual([{ n: 5 }]);
  });
});
