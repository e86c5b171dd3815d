// PostgreSQL driver on `pg`: a pool, unnamed statements only, so it works through a transaction-mode pooler.
import pg from 'pg';
import type { Driver, Sql } from './sql.js';

// Bigints (bigserial ids, counts) as JS numbers; values past 2^53 are not expected for our ids.
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface PgDriverOptions {
  url: string;
  ssl: boolean;
  poolSize: number;
}

export function createPgDriver(opts: PgDriverOptions): Driver {
  const sslFromUrl = /[?&]sslmode=(require|verify-ca|verify-full|prefer)/.test(opts.url);
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize,
    ssl:
      opts.ssl || sslFromUrl ? { rejectUnauthorized: !/sslmode=(require|prefer)/.test(opts.url) } : undefined,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => {});
  const query = async <T>(client: pg.Pool | pg.PoolClient, text: string, params?: readonly unknown[]) =>
    (await client.query(text, params as unknown[])).rows as T[];
  return {
    kind: 'postgres',
    query: (text, params) => query(pool, text, params),
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const sql: Sql = { query: (text, params) => query(client, text, params) };
        const result = await fn(sql);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
