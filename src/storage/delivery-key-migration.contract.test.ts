// Migration 0019: pending deliveries are re-keyed per (instance, chat); finished ones and chatless ones stay; twice is once.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBackends } from '../../test/support/db.js';
import { loadMigrations, splitStatements } from './migrate.js';
import { createPgDriver } from './pg-driver.js';
import { createPgliteDriver } from './pglite-driver.js';
import { type Driver, ident } from './sql.js';

const INST = '20000000-0000-4000-8000-000000000001';

describe.each(testBackends())('migration 0019 (deliveries per instance and chat) on %s', (backend) => {
  let driver: Driver;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const s = ident(schema);
  const run = async (version: string) => {
    const m = loadMigrations().find((x) => x.version === version || x.version.startsWith(`${version}_`))!;
    for (const stmt of splitStatements(m.sql.replaceAll('{{schema}}', s))) await driver.query(stmt);
  };

  beforeAll(async () => {
    driver =
      backend === 'postgres'
        ? createPgDriver({ url: process.env.TEST_DATABASE_URL!, ssl: false, poolSize: 2 })
        : await createPgliteDriver(undefined);
    await driver.query(`CREATE SCHEMA ${s}`);
    for (const m of loadMigrations().filter((x) => x.version < '0019')) await run(m.version);
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
    await driver?.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch((err: unknown) => {
      process.stderr.write(`migration 0019 test: could not drop ${schema}: ${String(err)}\n`);
    });
    await driver?.close();
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
