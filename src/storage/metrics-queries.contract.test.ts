// Storage contract for the metrics queries: instances counted by provider, status and login status.
import { expect, it } from 'vitest';
import { describeOnBackends, seedInstance } from '../../test/support/db.js';

describeOnBackends('metrics queries', (db) => {
  it('counts instances per (provider, status, auth_status) across companies; none gives no groups', async () => {
    const store = db.store;
    expect(await store.metricsQueries.sessionCounts()).toEqual([]);
    await store.companies.ensure('m1');
    await store.companies.ensure('m2');
    const mk = async (company: string, provider: string) =>
      (await seedInstance(store, { company_id: company, provider })).id;
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
