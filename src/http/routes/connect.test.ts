// Seed 004 end to end: warm pool, 100 parallel connects vs 10 free, first connect, release on logout, reconnect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { generateKey } from '../../core/keys.js';
import { POOL_COMPANY } from '../../core/pool.js';
import { rawSql } from '../../storage/sql-store.js';

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({
    listen: true,
    env: {
      POOL_ENABLED: 'on',
      POOL_SIZE: '10',
      POOL_MIN_FREE: '5',
      POOL_REFILL: '10',
      SESSION_PROVIDER: 'simulator',
    },
  });
  await t.gw.pool.fill();
}, 120_000);
afterAll(() => t?.close());

const call = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: unknown) =>
  t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

async function userOf(company: string): Promise<Record<string, string>> {
  const key = await createCompany(t, company);
  const email = `user@${company}.test`;
  await call('POST', `/api/v1/companies/${company}/users`, key, { email, password: 'user password 1' });
  const login = await call('POST', '/api/auth/login', {}, { email, password: 'user password 1' });
  return { authorization: `Bearer ${login.json().token}` };
}

/** Waits until the session reported its login for the company (its `connected` event, company at write time). */
const reopenedFor = (company: string, instanceId: string) =>
  eventually(async () => {
    const ev = await t.gw.store.events.listSince({
      since: 0,
      limit: 1000,
      company_id: company,
      instance_id: instanceId,
      types: ['connected'],
    });
    return ev.length > 0 && t.gw.supervisor.has(instanceId);
  });

const instanceByName = async (name: string) => {
  const rows = await rawSql(t.gw.store).sql.query<{ id: string }>(
    `SELECT id::text AS id FROM ${rawSql(t.gw.store).qschema}.instances WHERE name = $1`,
    [name],
  );
  return (await t.gw.store.instances.get(rows[0].id))!;
};

describe('seed 004 warm pool', () => {
  it('starts with POOL_SIZE free instances waiting with a QR', async () => {
    const res = await call('GET', '/api/v1/pool', t.admin);
    expect(res.statusCode).toBe(200);
    expect(res.json().pool).toMatchObject({
      enabled: true,
      size: 10,
      free: 10,
      ready: 10,
      in_use: 0,
      target: 10,
    });
    const m = await call('GET', '/api/whatsapp/metrics', t.admin);
    expect(m.json().pool).toEqual({ enabled: true, size: 10, free: 10, inUse: 0 });
  });

  it('100 parallel connects against 10 free instances: 10 distinct successes, 90 clean 503s, then a refill', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 100; i++) {
      const id = `c${String(i).padStart(3, '0')}`;
      await t.gw.store.companies.create({ id, name: id });
      const k = generateKey('company');
      await t.gw.store.keys.insert({
        kind: 'company',
        prefix: k.prefix,
        hash: k.hash,
        company_id: id,
        instance_id: null,
        scopes: [],
        label: null,
      });
      keys.push(k.key);
    }
    // The provider is slow to open new sessions during the burst, so refills cannot add ready instances yet.
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const delay = t.network.delay.bind(t.network);
    t.network.delay = () => gate;
    const answers = await Promise.all(
      keys.map(async (key) => {
        const r = await fetch(`${t.url}/api/whatsapp/connect`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}` },
        });
        return {
          status: r.status,
          body: (await r.json()) as Record<string, string>,
          retry: r.headers.get('retry-after'),
        };
      }),
    );
    const ok = answers.filter((a) => a.status === 200);
    const busy = answers.filter((a) => a.status === 503);
    expect(ok).toHaveLength(10);
    expect(busy).toHaveLength(90);
    expect(new Set(ok.map((a) => a.body.instanceName)).size).toBe(10);
    for (const a of ok) {
      expect(a.body).toMatchObject({ success: true, method: 'qr' });
      expect(a.body.qrCode).toMatch(/^data:image\/png;base64,/);
    }
    for (const a of busy) {
      expect(a.body).toEqual({
        error: 'Não há instâncias disponíveis no momento',
        message: 'Tente novamente em alguns segundos. Estamos criando mais instâncias.',
      });
      expect(a.retry).toBe('5');
    }
    expect((await call('GET', '/api/v1/pool', t.admin)).json().pool.refilling).toBe(true);
    t.network.delay = delay;
    open();
    const assigned = await rawSql(t.gw.store).sql.query<{ n: number }>(
      `SELECT count(DISTINCT assigned_to)::int AS n FROM ${rawSql(t.gw.store).qschema}.instances WHERE assigned_to IS NOT NULL`,
    );
    expect(Number(assigned[0].n)).toBe(10);
    const pool = await eventually(async () => {
      const p = (await call('GET', '/api/v1/pool', t.admin)).json().pool;
      return p.ready >= 10 && !p.refilling ? p : null;
    }, 20_000);
    expect(pool).toMatchObject({ in_use: 10, free: 10, ready: 10, size: 20 });
  });

  it('flow 1: first connect gives a QR; the scan connects the company’s own instance', async () => {
    const user = await userOf('alpha');
    const res = await call('POST', '/api/whatsapp/connect', user);
    expect(res.statusCode).toBe(200);
    const { instanceName, qrCode } = res.json();
    expect(instanceName).toMatch(/^pool-\d+-\d+$/);
    expect(qrCode).toMatch(/^data:image\/png;base64,/);
    const waiting = await call('GET', '/api/whatsapp/my-connection', user);
    expect(waiting.json()).toEqual({
      success: true,
      connected: false,
      instanceName,
      status: 'SCAN_QR_CODE',
      phoneNumber: null,
    });
    const inst = await instanceByName(instanceName);
    expect(inst).toMatchObject({ company_id: 'alpha', assigned_to: 'alpha', is_pooled: true });
    const scan = await call('POST', `/api/v1/instances/${inst.id}/simulate/scan`, t.admin, {
      phone: '5511999999999',
    });
    expect(scan.statusCode).toBe(200);
    const mine = await eventually(async () => {
      const r = (await call('GET', '/api/whatsapp/my-connection', user)).json();
      return r.connected ? r : null;
    });
    expect(mine).toEqual({
      success: true,
      connected: true,
      instanceName,
      status: 'WORKING',
      phoneNumber: '5511999999999@c.us',
    });
    // The session is not reopened: its login, inbound messages and events belong to the company at once.
    await reopenedFor('alpha', inst.id);
    const inbound = await call('POST', `/api/v1/instances/${inst.id}/simulate/inbound`, t.admin, {
      from: '5511888888888',
      text: 'olá',
    });
    expect(inbound.statusCode).toBe(200);
    // Connecting again while connected reports the connection instead of taking another instance.
    const again = await call('POST', '/api/whatsapp/connect', user);
    expect(again.json()).toMatchObject({ success: true, connected: true, instanceName, status: 'WORKING' });
    const events = await t.gw.store.events.listSince({
      since: 0,
      limit: 1000,
      instance_id: inst.id,
      types: ['message'],
    });
    expect(events.at(-1)?.company_id).toBe('alpha');
  });

  it('flow 2: a logout reported by the provider releases the instance back to the pool, history removed', async () => {
    const user = await userOf('beta');
    const { instanceName } = (await call('POST', '/api/whatsapp/connect', user)).json();
    const inst = await instanceByName(instanceName);
    await call('POST', `/api/v1/instances/${inst.id}/simulate/scan`, t.admin, { phone: '5511777777777' });
    await reopenedFor('beta', inst.id);
    const inbound = await call('POST', `/api/v1/instances/${inst.id}/simulate/inbound`, t.admin, {
      from: '5511666666666',
      text: 'secret',
    });
    expect(inbound.statusCode).toBe(200);
    await eventually(async () => (await t.gw.store.messages.count(inst.id)) > 0);
    const logout = await call('POST', `/api/v1/instances/${inst.id}/simulate/logout`, t.admin, {});
    expect(logout.statusCode).toBe(200);
    const released = await eventually(async () => {
      const i = await t.gw.store.instances.get(inst.id);
      return i && i.assigned_to === null && i.auth_status === 'qr_ready' ? i : null;
    });
    expect(released.company_id).toBe(POOL_COMPANY);
    expect(released.account).toBeNull();
    expect(await t.gw.store.messages.count(inst.id)).toBe(0);
    const mine = await call('GET', '/api/whatsapp/my-connection', user);
    expect(mine.json()).toEqual({ success: true, connected: false, message: 'WhatsApp não conectado' });
    const ev = await t.gw.store.events.listSince({
      since: 0,
      limit: 1000,
      company_id: 'beta',
      types: ['pool.released'],
    });
    expect(ev).toHaveLength(1);
  });

  it('flow 3: an assigned company that connects again gets a QR of the same instance; disconnect returns it', async () => {
    const user = await userOf('gamma');
    // Concurrent first connects of one company keep one instance.
    const inUse = (await t.gw.pool.stats()).in_use;
    const burst = await Promise.all(
      Array.from({ length: 5 }, () => call('POST', '/api/whatsapp/connect', user)),
    );
    expect(new Set(burst.map((r) => r.json().instanceName)).size).toBe(1);
    expect((await t.gw.pool.stats()).in_use).toBe(inUse + 1);
    const first = burst[0].json();
    const second = (await call('POST', '/api/whatsapp/connect', user)).json();
    expect(second).toMatchObject({ success: true, method: 'qr', instanceName: first.instanceName });
    expect(second.qrCode).toMatch(/^data:image\/png;base64,/);

    // Looked up before the release: a released instance gets a fresh pool name (the next company never sees ours).
    const inst = await instanceByName(first.instanceName);
    const off = await call('POST', '/api/whatsapp/disconnect', user);
    expect(off.json()).toEqual({ success: true, message: 'WhatsApp desconectado com sucesso' });
    const back = await eventually(async () => {
      const i = await t.gw.store.instances.get(inst.id);
      return i && i.assigned_to === null && i.auth_status === 'qr_ready' ? i : null;
    });
    expect(back.company_id).toBe(POOL_COMPANY);
    expect((await call('GET', '/api/whatsapp/my-connection', user)).json().connected).toBe(false);
    const none = await call('POST', '/api/whatsapp/disconnect', user);
    expect(none.json()).toEqual({ success: true, message: 'WhatsApp não conectado' });
  });

  // Only PostgreSQL runs two transactions at once (PGlite serialises them, so this race cannot happen there).
  it.runIf(process.env.TEST_DATABASE_URL)(
    'a claim batch that loses a race to a connection recorded meanwhile claims nothing for it; the company gets that connection',
    async () => {
      const user = await userOf('epsilon');
      const own = await t.gw.store.instances.create({
        company_id: 'epsilon',
        provider: 'simulator',
        name: 'epsilon own',
        type_instance: ['api'],
        settings: {},
        mcp_schema: {},
        desired_state: 'stopped',
      });
      await eventually(async () => (await t.gw.pool.stats()).ready > 0, 20_000);
      const before = await t.gw.pool.stats();
      // Another transaction records the company's own connection and holds it uncommitted.
      let commit!: () => void;
      const held = new Promise<void>((r) => {
        commit = r;
      });
      let recorded!: () => void;
      const inserted = new Promise<void>((r) => {
        recorded = r;
      });
      const other = t.gw.store.tx(async (tx) => {
        await tx.connections.insert('epsilon', own.id, 'session');
        recorded();
        await held;
      });
      await inserted;
      const connecting = call('POST', '/api/whatsapp/connect', user);
      // The batch set an instance aside and now waits on the held row to record its connection.
      const q = t.db.driver;
      await eventually(async () => {
        const rows = await q.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE '%company_connections%' AND query LIKE $1`,
          [`%${t.db.schema}%`],
        );
        return Number(rows[0].n) > 0;
      });
      commit();
      await other;
      const res = await connecting;
      expect(res.statusCode).toBe(200);
      expect(res.json().instanceName).toBe('epsilon own');
      // The instance the batch had set aside was never assigned and stays free; no assignment was announced.
      expect((await t.gw.pool.stats()).in_use).toBe(before.in_use);
      const assigned = await t.gw.store.events.listSince({
        since: 0,
        limit: 1000,
        company_id: 'epsilon',
        types: ['pool.assigned'],
      });
      expect(assigned).toEqual([]);
    },
  );

  it('refuses the admin key and anonymous callers, and validates the body', async () => {
    expect((await call('POST', '/api/whatsapp/connect', t.admin)).statusCode).toBe(403);
    expect((await call('GET', '/api/whatsapp/my-connection', t.admin)).statusCode).toBe(403);
    expect((await call('POST', '/api/whatsapp/connect', {})).statusCode).toBe(401);
    const user = await userOf('delta');
    const bad = await call('POST', '/api/whatsapp/connect', user, { unexpected: 1 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('SB_ERR_VALIDATION');
    expect((await call('GET', '/api/v1/pool', user)).statusCode).toBe(403);
  });
});
