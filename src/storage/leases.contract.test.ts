// Storage contract for session leases and replica heartbeats, on every backend.
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends, openTestDb, seedInstance } from '../../test/support/db.js';
import type { Store } from '../ports/store.js';

const MIN = 60_000;

describeOnBackends('lease repository', (db, backend) => {
  let store: Store;
  const newInstance = async (desired: 'running' | 'stopped' = 'running') =>
    (await seedInstance(store, { company_id: 'lc1', desired_state: desired })).id;

  beforeAll(async () => {
    store = db.store;
  });

  it('acquire: takes an absent lease, refuses a live foreign one, extends its own; release only by the owner', async () => {
    const id = await newInstance();
    expect(await store.leases.owner(id)).toBeNull();
    expect(await store.leases.acquire(id, 'a', MIN)).toBe(true);
    expect(await store.leases.acquire(id, 'b', MIN)).toBe(false);
    expect(await store.leases.acquire(id, 'a', 2 * MIN)).toBe(true);
    const lease = (await store.leases.list()).find((l) => l.instance_id === id)!;
    expect(lease).toMatchObject({ owner: 'a', epoch: 1 });
    expect(Date.parse(lease.expires_at)).toBeGreaterThan(Date.now() + MIN);
    await store.leases.release(id, 'b');
    expect(await store.leases.owner(id)).toBe('a');
    await store.leases.release(id, 'a');
    expect(await store.leases.owner(id)).toBeNull();
    expect((await store.leases.list()).some((l) => l.instance_id === id)).toBe(false);
  });

  it('an expired lease has no owner, another replica takes it and the epoch goes up', async () => {
    const id = await newInstance();
    // A negative TTL writes an already-expired lease: no waiting for the clock.
    expect(await store.leases.acquire(id, 'a', -1_000)).toBe(true);
    expect(await store.leases.owner(id)).toBeNull();
    expect((await store.leases.list()).some((l) => l.instance_id === id)).toBe(false);
    expect(await store.leases.acquire(id, 'b', MIN)).toBe(true);
    expect(await store.leases.owner(id)).toBe('b');
    expect((await store.leases.list()).find((l) => l.instance_id === id)).toMatchObject({
      owner: 'b',
      epoch: 2,
    });
    // The same owner re-taking its own lease keeps the epoch.
    expect(await store.leases.acquire(id, 'b', MIN)).toBe(true);
    expect((await store.leases.list()).find((l) => l.instance_id === id)?.epoch).toBe(2);
    await store.leases.release(id, 'b');
  });

  it('renew: extends only the live leases of that owner and returns them', async () => {
    const [x, y, z] = [await newInstance(), await newInstance(), await newInstance()];
    expect([...(await store.leases.renew('a', [], MIN))]).toEqual([]);
    await store.leases.acquire(x, 'a', MIN);
    await store.leases.acquire(y, 'a', -1_000);
    await store.leases.acquire(z, 'b', MIN);
    const held = await store.leases.renew('a', [x, y, z], 3 * MIN);
    expect([...held]).toEqual([x]);
    const lx = (await store.leases.list()).find((l) => l.instance_id === x)!;
    expect(Date.parse(lx.expires_at)).toBeGreaterThan(Date.now() + 2 * MIN);
    // an expired lease stays expired (renewal never revives it)
    expect(await store.leases.owner(y)).toBeNull();
    for (const [id, o] of [
      [x, 'a'],
      [y, 'a'],
      [z, 'b'],
    ] as const)
      await store.leases.release(id, o);
  });

  it('heartbeat, liveReplicas (window, order, fields), leave, prune and clearOthers', async () => {
    await store.leases.heartbeat('r2', 3);
    await store.leases.heartbeat('r1', 1);
    await store.leases.heartbeat('r1', 2);
    const live = await store.leases.liveReplicas(MIN);
    expect(live.map((r) => [r.id, r.sessions])).toEqual([
      ['r1', 2],
      ['r2', 3],
    ]);
    expect(Number.isNaN(Date.parse(live[0]!.heartbeat_at))).toBe(false);
    expect(Number.isNaN(Date.parse(live[0]!.started_at))).toBe(false);
    // A window in the past sees nobody.
    expect(await store.leases.liveReplicas(-1_000)).toEqual([]);

    await store.leases.leave('r2');
    expect((await store.leases.liveReplicas(MIN)).map((r) => r.id)).toEqual(['r1']);

    // prune forgets replicas silent for over an hour, keeps the others.
    await store.leases.heartbeat('old', 0);
    await db.driver.query(
      `UPDATE "${db.schema}".cluster_replicas SET heartbeat_at = now() - interval '2 hours' WHERE id = 'old'`,
    );
    await store.leases.prune();
    const after = await db.driver.query<{ id: string }>(
      `SELECT id FROM "${db.schema}".cluster_replicas ORDER BY id`,
    );
    expect(after.map((r) => r.id)).toEqual(['r1']);

    // clearOthers keeps only this replica's leases and replica row.
    const [mine, theirs] = [await newInstance(), await newInstance()];
    await store.leases.acquire(mine, 'r1', MIN);
    await store.leases.acquire(theirs, 'r9', MIN);
    await store.leases.heartbeat('r9', 1);
    await store.leases.clearOthers('r1');
    expect(await store.leases.owner(mine)).toBe('r1');
    expect(await store.leases.owner(theirs)).toBeNull();
    expect((await store.leases.liveReplicas(MIN)).map((r) => r.id)).toEqual(['r1']);
    await store.leases.release(mine, 'r1');
    await store.leases.leave('r1');
  });

  it('desiredCount and unowned: running instances without a live lease, recent errors held back', async () => {
    const fresh = await openTestDb(backend);
    try {
      const s = fresh.store;
      const mk = async (desired: 'running' | 'stopped') =>
        (await seedInstance(s, { company_id: 'lc2', desired_state: desired })).id;
      const [free, owned, expired, stopped, failed] = [
        await mk('running'),
        await mk('running'),
        await mk('running'),
        await mk('stopped'),
        await mk('running'),
      ];
      await s.instances.update(failed, { status: 'error' });
      await s.leases.acquire(owned, 'a', MIN);
      await s.leases.acquire(expired, 'a', -1_000);
      expect(await s.leases.desiredCount()).toBe(4);
      expect((await s.leases.unowned(10, MIN)).sort()).toEqual([free, expired].sort());
      // once the error is older than the backoff, the instance is offered again
      expect((await s.leases.unowned(10, -1_000)).sort()).toEqual([free, expired, failed].sort());
      expect(await s.leases.unowned(1, MIN)).toHaveLength(1);
      expect(stopped).toBeTruthy();
    } finally {
      await fresh.close();
    }
  });

  it('works inside a transaction: a rolled-back acquire leaves no lease', async () => {
    const id = await newInstance();
    await expect(
      store.tx(async (tx) => {
        expect(await tx.leases.acquire(id, 'a', MIN)).toBe(true);
        expect(await tx.leases.owner(id)).toBe('a');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.leases.owner(id)).toBeNull();
  });
});
