// Storage contract of the warm pool and company connections (storage/pool.ts) on every backend: counts, the
// one-statement claim (SKIP LOCKED, one connection per company), the wipe of a released instance.
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends, newMessage, seedEndpoint, seedInstance } from '../../test/support/db.js';
import { queuedDeliveries } from '../ports/deliveries.js';
import type { InstancePatch, Store } from '../ports/store.js';
import { SqlPoolRepo } from './pool.js';

const POOL = '__pool_test__';

describeOnBackends('warm pool and connections repositories', (db) => {
  let store: Store;
  let q: (text: string, params?: unknown[]) => Promise<Array<Record<string, any>>>;

  const pooled = async (patch: InstancePatch = {}) => {
    const inst = await seedInstance(store, {
      company_id: POOL,
      name: `p-${Math.random().toString(36).slice(2)}`,
      desired_state: 'running',
      is_pooled: true,
    });
    if (Object.keys(patch).length) await store.instances.update(inst.id, patch);
    return inst.id;
  };
  const ready: InstancePatch = { status: 'running', auth_status: 'qr_ready', qr: 'qr-payload' };
  /** What a claim does to the row (the company's instance), without its connection. */
  const assign = (id: string, company: string) =>
    q(`UPDATE "${db.schema}".instances SET assigned_to = $2, company_id = $2 WHERE id = $1`, [id, company]);
  const wipeAll = async () => {
    await q(`DELETE FROM "${db.schema}".company_connections`);
    await q(`DELETE FROM "${db.schema}".instances`);
  };

  beforeAll(async () => {
    store = db.store;
    q = (text, params = []) => db.driver.query(text, params);
    for (const c of [POOL, 'pc1', 'pc2', 'pc3', 'pc4', 'pc5']) await store.companies.ensure(c);
  });

  it('counts pooled instances only: size, free, ready (free with a QR), in use', async () => {
    await wipeAll();
    expect(await store.pool.counts()).toEqual({ size: 0, free: 0, ready: 0, in_use: 0 });
    const a = await pooled(ready);
    await pooled({ status: 'running', auth_status: 'qr_ready', qr: null });
    await pooled({ status: 'running', auth_status: 'pending' });
    const d = await pooled(ready);
    await assign(d, 'pc1');
    await store.instances.create({
      company_id: 'pc2',
      provider: 'simulator',
      name: 'not pooled',
      type_instance: ['api'],
      settings: {},
      mcp_schema: {},
      desired_state: 'running',
    });
    expect(await store.pool.counts()).toEqual({ size: 4, free: 3, ready: 1, in_use: 1 });
    expect(await store.pool.countFree()).toBe(3);
    const free = await store.pool.freeIds();
    expect(free).toHaveLength(3);
    expect(free[0]).toBe(a);
    expect(free).not.toContain(d);
  });

  it('claims the oldest ready instance with its connection; none claimable is null', async () => {
    await wipeAll();
    expect(await store.pool.claim('pc1')).toBeNull();
    await pooled({ status: 'running', auth_status: 'pending' });
    await pooled({ status: 'stopped', auth_status: 'qr_ready', qr: 'q' });
    expect(await store.pool.claim('pc1')).toBeNull();
    const first = await pooled(ready);
    const second = await pooled(ready);
    const c = await store.pool.claim('pc1');
    expect(c).toEqual({
      instance: {
        id: first,
        name: expect.any(String),
        qr: 'qr-payload',
        status: 'running',
        auth_status: 'qr_ready',
        account: null,
        provider: 'simulator',
      },
      recorded: true,
      freeAfter: 3,
    });
    const inst = await store.instances.get(first);
    expect(inst).toMatchObject({ company_id: 'pc1', assigned_to: 'pc1' });
    expect(await store.connections.get('pc1')).toMatchObject({
      company_id: 'pc1',
      instance_id: first,
      source: 'pool',
    });
    // A company that already has a connection: the claim says so (the caller rolls the transaction back).
    await expect(
      store.tx(async (tx) => {
        const again = await tx.pool.claim('pc1');
        expect(again).toMatchObject({ instance: { id: second }, recorded: false });
        throw new Error('lost race');
      }),
    ).rejects.toThrow('lost race');
    expect(await store.instances.get(second)).toMatchObject({ company_id: POOL, assigned_to: null });
  });

  it('concurrent claims take different instances (SKIP LOCKED)', async () => {
    await wipeAll();
    for (let i = 0; i < 3; i++) await pooled(ready);
    const claims = await Promise.all(['pc1', 'pc2', 'pc3'].map((c) => store.tx((tx) => tx.pool.claim(c))));
    const ids = claims.map((c) => c?.instance.id);
    // PGlite runs one transaction at a time, PostgreSQL skips locked rows: either way every claim differs.
    expect(ids.every(Boolean)).toBe(true);
    expect(new Set(ids).size).toBe(3);
    expect(await store.pool.counts()).toMatchObject({ free: 0, in_use: 3 });
  });

  it('claims for many companies in one statement: one instance each, oldest first, existing ones reported', async () => {
    await wipeAll();
    expect(await store.pool.claimAndAssign([])).toEqual({ claims: [], events: [], freeAfter: 0 });
    await pooled({ status: 'running', auth_status: 'pending' });
    const first = await pooled(ready);
    const second = await pooled(ready);
    const third = await pooled(ready);
    const own = await pooled();
    expect(await store.connections.insert('pc2', own, 'session')).toBe(true);
    // pc1 twice: one entry, one instance. pc2 has a connection: reported, nothing claimed. pc5: none left.
    const since = await store.events.latestId();
    const { claims, events, freeAfter } = await store.pool.claimAndAssign([
      'pc3',
      'pc1',
      'pc2',
      'pc1',
      'pc4',
      'pc5',
    ]);
    const claimed = (id: string) => ({
      id,
      name: expect.any(String),
      qr: 'qr-payload',
      status: 'running',
      auth_status: 'qr_ready',
      account: null,
      provider: 'simulator',
    });
    expect(claims).toEqual([
      { company_id: 'pc3', existing: null, instance: claimed(first), lost: false },
      { company_id: 'pc1', existing: null, instance: claimed(second), lost: false },
      { company_id: 'pc2', existing: own, instance: null, lost: false },
      { company_id: 'pc4', existing: null, instance: claimed(third), lost: false },
      { company_id: 'pc5', existing: null, instance: null, lost: false },
    ]);
    // One pool.assigned event per claimed instance, in the same statement, ids in the batch's order.
    const assigned = [
      ['pc3', first],
      ['pc1', second],
      ['pc4', third],
    ].map(([company, id]) => ({
      id: expect.any(Number),
      type: 'pool.assigned',
      instance_id: id,
      company_id: company,
      created_at: expect.any(String),
      data: { name: expect.any(String), provider: 'simulator' },
    }));
    expect(events).toEqual(assigned);
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((a, b) => a - b));
    expect(await store.events.listSince({ since, limit: 10, types: ['pool.assigned'] })).toEqual(events);
    // Free before the claim (pending, three ready, the session's own row, which is pooled here) minus three.
    expect(freeAfter).toBe(2);
    for (const [company, id] of [
      ['pc3', first],
      ['pc1', second],
      ['pc4', third],
    ] as const) {
      expect(await store.instances.get(id)).toMatchObject({ company_id: company, assigned_to: company });
      expect(await store.connections.get(company)).toMatchObject({ instance_id: id, source: 'pool' });
    }
    expect(await store.connections.get('pc5')).toBeNull();
    // Everyone connected now: a second batch claims nothing and reports each company's instance.
    const again = await store.pool.claimAndAssign(['pc1', 'pc3']);
    expect(again.claims.map((c) => [c.existing, c.instance])).toEqual([
      [second, null],
      [first, null],
    ]);
    expect(again.events).toEqual([]);
  });

  it("a batch claim queues its pool.assigned events' outbox deliveries in the same statement", async () => {
    await wipeAll();
    await pooled(ready);
    await pooled(ready);
    const ep = await seedEndpoint(store, { company_id: 'pc1', events: ['pool.assigned'] });
    try {
      const { events } = await store.pool.claimAndAssign(['pc1', 'pc2']);
      expect(events.map((e) => e.company_id)).toEqual(['pc1', 'pc2']);
      // Only pc1 has an endpoint for the event: its event is marked for the outbox worker and has its delivery.
      expect(events.map(queuedDeliveries)).toEqual([true, false]);
      const rows = await q(
        `SELECT event_id::int AS event_id, company_id FROM "${db.schema}".webhook_deliveries WHERE endpoint_id = $1`,
        [ep.id],
      );
      expect(rows).toEqual([{ event_id: events[0].id, company_id: 'pc1' }]);
    } finally {
      await q(`DELETE FROM "${db.schema}".webhook_deliveries WHERE endpoint_id = $1`, [ep.id]);
      await q(`DELETE FROM "${db.schema}".webhook_endpoints WHERE id = $1`, [ep.id]);
    }
  });

  it('concurrent batch claims take different instances (SKIP LOCKED)', async () => {
    await wipeAll();
    for (let i = 0; i < 4; i++) await pooled(ready);
    const batches = await Promise.all(
      [
        ['pc1', 'pc2'],
        ['pc3', 'pc4'],
      ].map((ids) => store.pool.claimAndAssign(ids)),
    );
    const ids = batches.flatMap((b) => b.claims.map((c) => c.instance?.id));
    expect(ids.every(Boolean)).toBe(true);
    expect(new Set(ids).size).toBe(4);
    expect(await store.pool.counts()).toMatchObject({ free: 0, in_use: 4 });
  });

  it('company connections: insert once per company, get, by instance, list, delete', async () => {
    await wipeAll();
    const a = await pooled();
    const b = await pooled();
    expect(await store.connections.insert('pc2', a, 'session')).toBe(true);
    expect(await store.connections.insert('pc2', b, 'pool')).toBe(false);
    expect(await store.connections.insert('pc1', b, 'pool')).toBe(true);
    const conn = await store.connections.get('pc2');
    expect(conn).toEqual({
      company_id: 'pc2',
      instance_id: a,
      source: 'session',
      created_at: expect.any(String),
    });
    expect(await store.connections.byInstance(a)).toEqual(conn);
    expect(await store.connections.get('pc3')).toBeNull();
    expect((await store.connections.list()).map((c) => c.company_id)).toEqual(['pc1', 'pc2']);
    expect(await store.connections.list('pc2')).toEqual([conn]);
    expect(await store.connections.list('pc3')).toEqual([]);
    expect(await store.connections.deleteByInstance(a)).toEqual(conn);
    expect(await store.connections.deleteByInstance(a)).toBeNull();
    expect(await store.connections.byInstance(a)).toBeNull();
  });

  it("wipes only the released instance's history and endpoints, and resets it to the pool", async () => {
    await wipeAll();
    const gone = await pooled(ready);
    const kept = await pooled(ready);
    await assign(gone, 'pc1');
    await store.instances.update(gone, {
      account: '4915100000001@s.whatsapp.net',
      last_error: 'x',
      name: 'my phone',
      type_instance: ['api', 'mcp'],
      settings: { a: 1 },
      mcp_schema: { c: 1 },
    });
    const s = `"${db.schema}"`;
    for (const id of [gone, kept]) {
      await store.messages.upsert(
        newMessage(id, {
          company_id: 'pc1',
          message_id: 'm1',
          chat_id: '4915100000002@s.whatsapp.net',
          from: '4915100000002@s.whatsapp.net',
          body: 'hi',
        }),
      );
      await store.chats.touch({
        instance_id: id,
        chat_id: '4915100000002@s.whatsapp.net',
        name: null,
        is_group: false,
        at: new Date().toISOString(),
        preview: 'hi',
        unread_delta: 1,
      });
      await store.contacts.upsert({
        instance_id: id,
        contact_id: '4915100000002@s.whatsapp.net',
        name: 'B',
        phone: null,
      });
      await store.messages.stashAck(id, 'unknown-id', 'delivered');
      await q(
        `INSERT INTO ${s}.whatsapp_identities (instance_id, lid, pn) VALUES ($1, '1@lid', '49151@s.whatsapp.net')`,
        [id],
      );
      await q(`INSERT INTO ${s}.whatsapp_media (instance_id, message_id, raw) VALUES ($1, 'm1', 'raw')`, [
        id,
      ]);
      const ep = await q(
        `INSERT INTO ${s}.webhook_endpoints (company_id, instance_id, url) VALUES ('pc1', $1, 'http://127.0.0.1:1/h')
         RETURNING id`,
        [id],
      );
      await q(
        `INSERT INTO ${s}.webhook_deliveries (endpoint_id, event_id, company_id, instance_id) VALUES ($1, 1, 'pc1', $2)`,
        [ep[0]!.id, id],
      );
      // The copy migration 0018 kept of an instance's old webhook/agent settings is its company's data too.
      await q(
        `INSERT INTO ${s}.instance_hook_config_0018 (instance_id, api_webhook_schema, agent)
         VALUES ($1, '{"url":"http://127.0.0.1:1/old"}', '{}')`,
        [id],
      );
    }
    const tables = [
      'messages',
      'chats',
      'contacts',
      'pending_acks',
      'whatsapp_media',
      'whatsapp_identities',
      'webhook_endpoints',
      'webhook_deliveries',
      'instance_hook_config_0018',
    ];
    const counts = async (id: string) => {
      const out: Record<string, number> = {};
      for (const t of tables) {
        out[t] = Number(
          (await q(`SELECT count(*)::int AS n FROM ${s}.${t} WHERE instance_id = $1`, [id]))[0]!.n,
        );
      }
      return out;
    };
    const full = Object.fromEntries(tables.map((t) => [t, 1]));
    expect(await counts(gone)).toEqual(full);

    await store.tx(async (tx) => {
      await tx.pool.clearInstanceData(gone);
      await tx.pool.resetInstance(gone, POOL, 'pool-new-name');
    });
    expect(await counts(gone)).toEqual(Object.fromEntries(tables.map((t) => [t, 0])));
    expect(await counts(kept)).toEqual(full);
    expect(await store.instances.get(gone)).toMatchObject({
      company_id: POOL,
      assigned_to: null,
      account: null,
      qr: null,
      last_error: null,
      name: 'pool-new-name',
      type_instance: ['api'],
      settings: {},
      mcp_schema: {},
      is_pooled: true,
    });
    expect(await store.instances.get(kept)).toMatchObject({ company_id: POOL, qr: 'qr-payload' });
  });

  it('wipes a released instance after an operator dropped the copy table of migration 0018', async () => {
    await wipeAll();
    const id = await pooled(ready);
    await assign(id, 'pc1');
    const rolledBack = new Error('roll back the DROP');
    await expect(
      db.driver.transaction(async (sql) => {
        await sql.query(`DROP TABLE "${db.schema}".instance_hook_config_0018`);
        const pool = new SqlPoolRepo(sql, `"${db.schema}"`);
        await pool.clearInstanceData(id);
        await pool.resetInstance(id, POOL, 'pool-again');
        throw rolledBack;
      }),
    ).rejects.toBe(rolledBack);
  });
});
