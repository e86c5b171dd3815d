// PostgreSQL driver on `pg`: a pool, unnamed statements only, so it works through a transaction-mode pooler.
import pg from 'pg';
import { type Driver, mapDriverError, type Sql } from './sql.js';

// Bigints (bigserial ids, counts) as JS numbers; values past 2^53 are not expected for our ids.
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface PgDriverOptions {
  url: string;
  ssl: boolean;
  poolSize: number;
  /**
   * Told about a connection that failed outside any operation (an idle pooled client whose server went away).
   * The pool drops such a client by itself; a failure during an operation rejects that operation instead.
   */
  onConnectionError?: (err: Error) => void;
}

/**
 * `application_name` of our sessions unless the URL sets one (`?application_name=…`): lets an operator find them
 * in `pg_stat_activity`. A plain startup parameter, which PgBouncer and Supavisor pass through.
 */
export const DEFAULT_APPLICATION_NAME = 'switchboard';

export function createPgDriver(opts: PgDriverOptions): Driver {
  const sslFromUrl = /[?&]sslmode=(require|verify-ca|verify-full|prefer)/.test(opts.url);
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize,
    ssl:
      opts.ssl || sslFromUrl ? { rejectUnauthorized: !/sslmode=(require|prefer)/.test(opts.url) } : undefined,
    connectionTimeoutMillis: 10_000,
    // A value in the connection string takes precedence over this one.
    application_name: DEFAULT_APPLICATION_NAME,
  });
  const onConnectionError = opts.onConnectionError ?? (() => {});
  // An idle client losing its connection must not crash the process (the pool removes it).
  pool.on('error', (err) => onConnectionError(err));
  // A checked-out client has no pool listener: without one of its own, a terminated backend (57P01) raises an
  // unhandled 'error' event and kills the process. The operation using it fails through its own promise.
  const broken = new WeakSet<pg.PoolClient>();
  pool.on('connect', (client) => {
    client.on('error', (err) => {
      broken.add(client);
      onConnectionError(err);
    });
  });
  const query = async <T>(client: pg.Pool | pg.PoolClient, text: string, params?: readonly unknown[]) => {
    try {
      return (await client.query(text, params as unknown[])).rows as T[];
    } catch (err) {
      throw mapDriverError(err);
    }
  };
  return {
    kind: 'postgres',
    query: (text, params) => query(pool, text, params),
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw mapDriverError(err);
      }
      let failure: unknown;
      try {
        await query(client, 'BEGIN');
        const sql: Sql = { query: (text, params) => query(client, text, params) };
        const result = await fn(sql);
        await query(client, 'COMMIT');
        return result;
      } catch (err) {
        failure = err;
        if (!broken.has(client)) {
          // A failed ROLLBACK means the connection is gone; the client is then destroyed, not reused.
          await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
            broken.add(client);
            onConnectionError(rollbackErr as Error);
          });
        }
        throw err;
      } finally {
        // A client that saw a connection error (or an unknown failure state) is destroyed rather than pooled.
        client.release(broken.has(client) ? ((failure as Error) ?? true) : undefined);
      }
    },
    close: () => pool.end(),
  };
}
