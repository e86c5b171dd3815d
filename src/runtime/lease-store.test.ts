// Lease rows: one owner at a time, takeover only after expiry, renewals report lost leases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../test/support/db.js';
import { eventually } from '../../test/support/gateway.js';
import { StoreLeases } from './lease-store.js';

describe('StoreLeases', () => {
  let db: TestDb;
  let ids: string[];

  beforeAll(async () => {
    db = await openTestDb();
    await db.store.companies.ensure('c1');
    ids = [];
    for (let i = 0; i < 3; i++) {
      const inst = await db.store.instances.create({
        company_id: 'c1',
        provider: 'simulator',
        name: `i${i}`,
        type_instance: ['api'],
        settings: {},
        mcp_schema: {},
        desired_state: 'running',
      });
      ids.push(inst.id);
    }
  });
  afterAll(async () => db.close());

  it('gives a lease to one replica until it is released', async () => {
    const a = new StoreLeases(db.store, 'a', 60_000);
    const b = new StoreLeases(db.store, 'b', 60_000);
    expect(await a.acquire(ids[0])).toBe(true);
    expect(await b.acquire(ids[0])).toBe(false);
    expect(await a.acquire(ids[0])).toBe(true);
    expect(await b.owner(ids[0])).toBe('a');
    await b.release(ids[0]);
    expect(await a.owner(ids[0])).toBe('a');
    await a.release(ids[0]);
    expect(await a.owner(ids[0])).toBeNull();
    expect(await b.acquire(ids[0])).toBe(true);
    expect(await a.owner(ids[0])).toBe('b');
    await b.release(ids[0]);
  });

  it('lets another replica take an expired lease, bumping the epoch, and reports it lost', async () => {
    const a = new StoreLeases(db.store, 'a', 300);
    const b = new StoreLeases(db.store, 'b', 60_000);
    expect(await a.acquire(ids[1])).toBe(true);
    expect(await b.acquire(ids[1])).toBe(false);
    await eventually(async () => (await a.owner(ids[1])) === null, 5000);
    expect(await b.acquire(ids[1])).toBe(true);
    const lease = (await b.list()).find((l) => l.instance_id === ids[1])!;
    expect(lease).toMatchObject({ owner: 'b', epoch: 2 });
    expect([...(await a.renew([ids[1]]))]).toEqual([]);
    expect([...(await b.renew([ids[1]]))]).toEqual([ids[1]]);
    await b.release(ids[1]);
  });

  it('lists unowned desired-running instances, replicas and counts', async () => {
    const a = new StoreLeases(db.store, 'a', 60_000);
    expect(await a.acquire(ids[2])).toBe(true);
    const unowned = await a.unowned(10, 30_000);
    expect(unowned.sort()).toEqual([ids[0], ids[1]].sort());
    expect(await a.desiredCount()).toBe(3);
    await a.heartbeat(1);
    await new StoreLeases(db.store, 'b', 60_000).heartbeat(0);
    expect((await a.liveReplicas()).map((r) => r.id)).toEqual(['a', 'b']);
    await a.leave();
    expect((await a.liveReplicas()).map((r) => r.id)).toEqual(['b']);
    await a.release(ids[2]);
  });
});
