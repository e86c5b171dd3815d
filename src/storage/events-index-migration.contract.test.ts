// Migration 0020: events keep a BRIN index on created_at instead of a btree; retention deletes old events oldest id first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MigrationTestDb, openMigrationTestDb, testBackends } from '../../test/support/db.js';
import { SqlRetentionRepo } from './retention.js';
import type { Driver } from './sql.js';

describe.each(testBackends())('migration 0020 (events by id) on %s', (backend) => {
  let db: MigrationTestDb;
  let driver: Driver;
  let s = '';
  const indexes = async () =>
    (
      await driver.query<{ name: string; method: string }>(
        `SELECT c.relname AS name, am.amname AS method FROM pg_index x
           JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am am ON am.oid = c.relam
           JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = $1 AND t.relname = 'events' ORDER BY 1`,
        [db.schema],
      )
    ).map((r) => `${r.name} ${r.method}`);

  beforeAll(async () => {
    db = await openMigrationTestDb(backend, '0020');
    ({ driver, s } = db);
    await driver.query(`INSERT INTO ${s}.companies (id, name) VALUES ('acme', 'acme')`);
    // Three old events and one young one.
    for (const age of ['30 days', '20 days', '10 days', '1 minute']) {
      await driver.query(
        `INSERT INTO ${s}.events (type, company_id, created_at) VALUES ('x', 'acme', now() - $1::interval)`,
        [age],
      );
    }
  }, 180_000);

  afterAll(async () => {
    await db?.close();
  });

  it('replaces the created_at btree with a BRIN index, and running it again changes nothing', async () => {
    expect(await indexes()).toContain('events_created_idx btree');
    await db.run(db.statements('0020'));
    const once = await indexes();
    expect(once).not.toContain('events_created_idx btree');
    expect(once).toContain('events_created_brin brin');
    await db.run(db.statements('0020'));
    expect(await indexes()).toEqual(once);
  });

  it('retention deletes old events oldest id first, in batches, and keeps the young ones', async () => {
    const retention = new SqlRetentionRepo(driver, s);
    const ids = async () =>
      (await driver.query<{ id: string }>(`SELECT id::text AS id FROM ${s}.events ORDER BY id`)).map((r) =>
        Number(r.id),
      );
    const [first, second, third, young] = await ids();
    const cutoff = new Date(Date.now() - 86_400_000);
    expect(await retention.deleteBatch('events', cutoff, 1)).toBe(1);
    expect(await ids()).toEqual([second, third, young]);
    expect(await retention.deleteBatch('events', cutoff, 10)).toBe(2);
    expect(await retention.deleteBatch('events', cutoff, 10)).toBe(0);
    expect(await ids()).toEqual([young]);
    expect(first).toBeLessThan(second!);
  });
});
