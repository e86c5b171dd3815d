// Migration 0018 (one webhook model): config only on the instance row moves into endpoints, nothing is lost, twice is once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MigrationTestDb, openMigrationTestDb, testBackends } from '../../test/support/db.js';
import type { Store } from '../ports/store.js';
import type { Driver } from './sql.js';
import { createSqlStore } from './sql-store.js';

const ROW_ONLY = '10000000-0000-4000-8000-000000000001';
const BOTH = '10000000-0000-4000-8000-000000000002';
const INVALID = '10000000-0000-4000-8000-000000000003';
const EMPTY = '10000000-0000-4000-8000-000000000004';

describe.each(testBackends())('migration 0018 (webhook model) on %s', (backend) => {
  let db: MigrationTestDb;
  let driver: Driver;
  let store: Store;
  let schema = '';
  let s = '';

  beforeAll(async () => {
    db = await openMigrationTestDb(backend, '0018');
    ({ driver, schema, s } = db);
    // The old shape: config on the instance row.
    await driver.query(`INSERT INTO ${s}.companies (id, name) VALUES ('acme', 'acme')`);
    const instance = (id: string, hook: object, agent: object) =>
      driver.query(
        `INSERT INTO ${s}.instances (id, company_id, provider, api_webhook_schema, agent)
         VALUES ($1, 'acme', 'simulator', $2::jsonb, $3::jsonb)`,
        [id, JSON.stringify(hook), JSON.stringify(agent)],
      );
    await instance(
      ROW_ONLY,
      { url: ' https://hooks.example.com/a ', events: ['message', '*', 7], enabled: false, note: 'kept' },
      {
        url: 'https://agent.example.com/',
        agent_id: 'support',
        api_key: 'agno-key-1',
        reply_in_groups: true,
      },
    );
    await instance(
      BOTH,
      { url: 'https://row.example.com/old' },
      { url: 'https://agent.example.com', agent_id: 'x' },
    );
    await driver.query(
      `INSERT INTO ${s}.webhook_endpoints (company_id, instance_id, kind, url, events, secret, options)
       VALUES ('acme', $1, 'webhook', 'https://endpoint.example.com/new', ARRAY['message'], 'whsec_kept',
               '{"source": "{\\"url\\":\\"https://row.example.com/old\\"}"}'::jsonb)`,
      [BOTH],
    );
    await instance(INVALID, { a: 'b' }, { url: 7 });
    await instance(EMPTY, {}, {});
    store = createSqlStore(driver, schema);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('moves row-only config into endpoints, keeps existing endpoints, runs twice as once, then drops the columns', async () => {
    const all = db.statements('0018');
    const moves = all.filter((q) => !/^ALTER TABLE .* DROP COLUMN/.test(q));
    expect(all.length - moves.length).toBe(2);
    await db.run(moves);
    await db.run(moves);
    await db.run(all);

    const hook = await store.deliveries.instanceEndpoint(ROW_ONLY, 'webhook');
    expect(hook).toMatchObject({
      company_id: 'acme',
      url: 'https://hooks.example.com/a',
      events: ['message'],
      enabled: false,
      inbound_only: false,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    });
    expect(Buffer.from(hook!.secret!.slice(6), 'base64')).toHaveLength(32);
    expect(await store.deliveries.instanceEndpoint(ROW_ONLY, 'agent')).toMatchObject({
      url: 'https://agent.example.com',
      events: ['message'],
      inbound_only: true,
      include_groups: true,
      enabled: true,
      secret: 'agno-key-1',
      options: { agent_id: 'support' },
    });
    // The endpoint was what deliveries used: it stays, without the old sync's copy of the row.
    expect(await store.deliveries.instanceEndpoint(BOTH, 'webhook')).toMatchObject({
      url: 'https://endpoint.example.com/new',
      secret: 'whsec_kept',
      options: {},
    });
    expect(await store.deliveries.instanceEndpoint(BOTH, 'agent')).toMatchObject({
      options: { agent_id: 'x' },
    });
    for (const id of [INVALID, EMPTY]) {
      expect(await store.deliveries.listEndpoints({ instance_id: id })).toEqual([]);
    }
    const count = await driver.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.webhook_endpoints`);
    expect(count[0].n).toBe(4);

    // Nothing lost: the old values as they were (the agent key only in its endpoint).
    const saved = await driver.query<{ instance_id: string; api_webhook_schema: object; agent: object }>(
      `SELECT instance_id::text AS instance_id, api_webhook_schema, agent
         FROM ${s}.instance_hook_config_0018 ORDER BY instance_id`,
    );
    expect(saved).toEqual([
      {
        instance_id: ROW_ONLY,
        api_webhook_schema: {
          url: ' https://hooks.example.com/a ',
          events: ['message', '*', 7],
          enabled: false,
          note: 'kept',
        },
        agent: { url: 'https://agent.example.com/', agent_id: 'support', reply_in_groups: true },
      },
      {
        instance_id: BOTH,
        api_webhook_schema: { url: 'https://row.example.com/old' },
        agent: { url: 'https://agent.example.com', agent_id: 'x' },
      },
      { instance_id: INVALID, api_webhook_schema: { a: 'b' }, agent: { url: 7 } },
    ]);
    const cols = await driver.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'instances' AND column_name IN ('api_webhook_schema', 'agent')`,
      [schema],
    );
    expect(cols).toEqual([]);
    // The instance reads as before.
    expect(await store.instances.get(ROW_ONLY)).toMatchObject({ id: ROW_ONLY, company_id: 'acme' });
  });
});
