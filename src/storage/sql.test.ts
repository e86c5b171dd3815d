// Connection errors are recognised in one place and become SB_ERR_UNAVAILABLE (503 with Retry-After).
import { describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/process.js';
import { SbError } from '../domain/errors.js';
import { createPgDriver } from './pg-driver.js';
import { isConnectionError, mapDriverError } from './sql.js';

describe('connection error mapping', () => {
  it('recognises lost and refused connections, pool timeouts and server shutdowns', () => {
    const coded = (code: string) => Object.assign(new Error('x'), { code });
    for (const e of [
      coded('57P01'),
      coded('57P02'),
      coded('57P03'),
      coded('08006'),
      coded('08001'),
      coded('ECONNREFUSED'),
      coded('ECONNRESET'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated due to connection timeout', { cause: coded('ETIMEDOUT') }),
      new AggregateError([coded('ECONNREFUSED')], 'connect failed'),
    ])
      expect(isConnectionError(e), String(e)).toBe(true);
    for (const e of [coded('23505'), coded('42P01'), new Error('syntax error'), null, 'ECONNREFUSED'])
      expect(isConnectionError(e), String(e)).toBe(false);
  });

  it('maps a connection error to SB_ERR_UNAVAILABLE with Retry-After and leaves others alone', () => {
    const mapped = mapDriverError(Object.assign(new Error('terminating connection'), { code: '57P01' }));
    expect(mapped).toBeInstanceOf(SbError);
    expect((mapped as SbError).code).toBe('SB_ERR_UNAVAILABLE');
    expect((mapped as SbError).status).toBe(503);
    expect((mapped as SbError).headers['retry-after']).toMatch(/^\d+$/);
    const other = Object.assign(new Error('duplicate key'), { code: '23505' });
    expect(mapDriverError(other)).toBe(other);
  });

  it('a refused connection fails queries and transactions with SB_ERR_UNAVAILABLE', async () => {
    // A port on this machine where nothing listens.
    const driver = createPgDriver({
      url: `postgres://postgres@127.0.0.1:${await freePort()}/x`,
      ssl: false,
      poolSize: 2,
    });
    try {
      await expect(driver.query('SELECT 1')).rejects.toMatchObject({ code: 'SB_ERR_UNAVAILABLE' });
      await expect(driver.transaction(async (sql) => sql.query('SELECT 1'))).rejects.toMatchObject({
        code: 'SB_ERR_UNAVAILABLE',
      });
    } finally {
      await driver.close();
    }
  });
});
