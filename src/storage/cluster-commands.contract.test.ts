// Storage contract for the cluster command queue: enqueue, claim once, answer, expire, clean up; every backend.
import { randomUUID } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends } from '../../test/support/db.js';
import type { ClusterCommand } from '../ports/leases.js';
import type { Store } from '../ports/store.js';

const cmd = (op: 'start' | 'stop' = 'start'): ClusterCommand => ({ op, instance_id: randomUUID() });

describeOnBackends('cluster command repository', (db) => {
  let store: Store;

  beforeAll(async () => {
    store = db.store;
  });

  it('enqueues pending commands with growing ids; an unknown id has no state', async () => {
    const a = await store.clusterCommands.enqueue('t-enq', cmd());
    const b = await store.clusterCommands.enqueue('t-enq', cmd());
    expect(b).toBeGreaterThan(a);
    expect(await store.clusterCommands.state(a)).toEqual({ status: 'pending', result: null });
    expect(await store.clusterCommands.state(b + 1_000_000)).toBeNull();
  });

  it('claims only its target, oldest first, up to the limit, and never the same command twice', async () => {
    const sent = [cmd('start'), cmd('stop'), cmd('start')];
    const ids: number[] = [];
    for (const c of sent) ids.push(await store.clusterCommands.enqueue('t-claim', c));
    const other = await store.clusterCommands.enqueue('t-other', cmd());
    const first = await store.clusterCommands.claim('t-claim', 2);
    expect(first.map((r) => r.id)).toEqual(ids.slice(0, 2));
    expect(first.map((r) => r.cmd)).toEqual(sent.slice(0, 2));
    expect((await store.clusterCommands.state(ids[0]!))?.status).toBe('running');
    const rest = await store.clusterCommands.claim('t-claim', 16);
    expect(rest.map((r) => r.id)).toEqual([ids[2]]);
    expect(await store.clusterCommands.claim('t-claim', 16)).toEqual([]);
    expect((await store.clusterCommands.state(other))?.status).toBe('pending');
  });

  it('concurrent claimers split the queue between them', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push(await store.clusterCommands.enqueue('t-race', cmd()));
    const got = await Promise.all([1, 2, 3, 4].map(() => store.clusterCommands.claim('t-race', 20)));
    const all = got.flat().map((r) => r.id);
    expect(new Set(all).size).toBe(all.length);
    const more = await store.clusterCommands.claim('t-race', 20);
    expect([...all, ...more.map((r) => r.id)].sort((x, y) => x - y)).toEqual(ids);
  });

  it('finish stores the reply as done or failed', async () => {
    const ok = await store.clusterCommands.enqueue('t-fin', cmd());
    const bad = await store.clusterCommands.enqueue('t-fin', cmd());
    await store.clusterCommands.claim('t-fin', 16);
    await store.clusterCommands.finish(ok, true, { ok: true, result: { n: 1 } });
    const err = { ok: false, error: { code: 'SB_ERR_PROVIDER', message: 'x', details: null } };
    await store.clusterCommands.finish(bad, false, err);
    expect(await store.clusterCommands.state(ok)).toEqual({
      status: 'done',
      result: { ok: true, result: { n: 1 } },
    });
    expect(await store.clusterCommands.state(bad)).toEqual({ status: 'failed', result: err });
  });

  it('expire marks only a still-pending command, which is then never claimed', async () => {
    const pending = await store.clusterCommands.enqueue('t-exp', cmd());
    expect(await store.clusterCommands.expire(pending)).toBe(true);
    expect((await store.clusterCommands.state(pending))?.status).toBe('expired');
    expect(await store.clusterCommands.claim('t-exp', 16)).toEqual([]);
    const taken = await store.clusterCommands.enqueue('t-exp', cmd());
    await store.clusterCommands.claim('t-exp', 16);
    expect(await store.clusterCommands.expire(taken)).toBe(false);
    expect((await store.clusterCommands.state(taken))?.status).toBe('running');
    expect(await store.clusterCommands.expire(pending)).toBe(false);
  });

  it('cleanup deletes commands finished over 5 minutes ago or created over an hour ago, nothing else', async () => {
    const t = `"${db.schema}".cluster_commands`;
    const oldDone = await store.clusterCommands.enqueue('t-clean', cmd());
    const newDone = await store.clusterCommands.enqueue('t-clean', cmd());
    const ancient = await store.clusterCommands.enqueue('t-clean', cmd());
    const fresh = await store.clusterCommands.enqueue('t-clean', cmd());
    await store.clusterCommands.claim('t-clean', 2);
    await store.clusterCommands.finish(oldDone, true, { ok: true, result: null });
    await store.clusterCommands.finish(newDone, true, { ok: true, result: null });
    await db.driver.query(`UPDATE ${t} SET done_at = now() - interval '6 minutes' WHERE id = $1`, [oldDone]);
    await db.driver.query(`UPDATE ${t} SET created_at = now() - interval '2 hours' WHERE id = $1`, [ancient]);
    await store.clusterCommands.cleanup();
    expect(await store.clusterCommands.state(oldDone)).toBeNull();
    expect(await store.clusterCommands.state(ancient)).toBeNull();
    expect((await store.clusterCommands.state(newDone))?.status).toBe('done');
    expect((await store.clusterCommands.state(fresh))?.status).toBe('pending');
  });
});
