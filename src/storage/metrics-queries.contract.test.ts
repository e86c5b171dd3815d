// Storage contract for the metrics queries: instances counted by provider, status and login status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb, testBackends } from '../../test/support/db.js';

describe.each(testBackends())('metrics queries on %s', (backend) => {
  let db: TestDb;

  beforeAll(async () => {
    db = await openTestDb(backend);
  });
  afterAll(async () => db?.close());

  it('counts instances per (provider, status, auth_status) across companies; none gives no groups', async () => {
    const store = db.store;
    expect(await store.metricsQueries.sessionCounts()).toEqual([]);
    await store.companies.ensure('m1');
    await store.companies.ensure('m2');
    const mk = async (company: string, provider: string) =>
      (
        await store.instances.create({
          company_id: company,
          provider,
          name: null,
          type_instance: ['api'],
          settings: {},
          mcp_schema: {},
          desired_state: 'stopped',
        })
      ).id;
    await mk('m1', 'simulator');
    await mk('m2', 'simulator');
    const c = await mk('m1', 'simulator');
    await mk('m1', 'telegram');
    await store.instances.update(c, { status: 'running', auth_status: 'authenticated' });
    const rows = await store.metricsQueries.sessionCounts();
    const key = (r: { provider: string; status: string; auth_status: string }) =>
      `${r.provider}/${r.status}/${r.auth_status}`;
    expect(Object.fromEntries(rows.map((r) => [key(r), r.n]))).toEqual({
      'simulator/created/pending': 2,
      'simulator/running/authenticated': 1,
      'telegram/created/pending': 1,
    });
    for (const r of rows) expect(typeof r.n).toBe('number');
  });
});
