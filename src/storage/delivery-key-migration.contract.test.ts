// Migration 0019: pending deliveries are re-keyed per (instance, chat); finished ones and chatless ones stay; twice is once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MigrationTestDb, openMigrationTestDb, testBackends } from '../../test/support/db.js';
import type { Driver } from './sql.js';

const INST = '20000000-0000-4000-8000-000000000001';

describe.each(testBackends())('migration 0019 (deliveries per instance and chat) on %s', (backend) => {
  let db: MigrationTestDb;
  let driver: Driver;
  let s = '';
  const run = (version: string) => db.run(db.statements(version));

  beforeAll(async () => {
    db = await openMigrationTestDb(backend, '0019');
    ({ driver, s } = db);
    await driver.query(`INSERT INTO ${s}.companies (id, name) VALUES ('acme', 'acme')`);
    await driver.query(
      `INSERT INTO ${s}.instances (id, company_id, provider) VALUES ($1, 'acme', 'simulator')`,
      [INST],
    );
    const [ep] = await driver.query<{ id: string }>(
      `INSERT INTO ${s}.webhook_endpoints (company_id, url) VALUES ('acme', 'https://hooks.example.com/') RETURNING id`,
    );
    const delivery = async (instance: string | null, chat: string | null, status: string) => {
      const [ev] = await driver.query<{ id: string }>(
        `INSERT INTO ${s}.events (type, instance_id, company_id) VALUES ('message', $1, 'acme') RETURNING id`,
        [instance],
      );
      await driver.query(
        `INSERT INTO ${s}.webhook_deliveries (endpoint_id, event_id, company_id, instance_id, chat_key, status)
         VALUES ($1, $2, 'acme', $3, $4, $5)`,
        [ep!.id, ev!.id, instance, chat, status],
      );
    };
    await delivery(INST, 'a@s.whatsapp.net', 'pending');
    await delivery(INST, 'a@s.whatsapp.net', 'delivered');
    await delivery(INST, null, 'pending');
    await delivery(null, 'deployment-chat', 'pending');
  }, 180_000);

  afterAll(async () => {
    await db?.close();
  });

  it('re-keys the pending deliveries of an instance, and running it again changes nothing', async () => {
    const keys = async () =>
      (
        await driver.query<{ status: string; chat_key: string | null }>(
          `SELECT status, chat_key FROM ${s}.webhook_deliveries ORDER BY id`,
        )
      ).map((r) => [r.status, r.chat_key]);
    await run('0019');
    const once = await keys();
    expect(once).toEqual([
      ['pending', `${INST}:a@s.whatsapp.net`],
      ['delivered', 'a@s.whatsapp.net'],
      ['pending', null],
      ['pending', 'deployment-chat'],
    ]);
    await run('0019');
    expect(await keys()).toEqual(once);
  });
});
