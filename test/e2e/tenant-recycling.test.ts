// Tenant isolation across warm-pool recycling and WAHA session naming: what a previous or a hostile tenant gets.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { wahaSessionName } from '../../src/core/waha-identity.js';
import type { GatewayEvent } from '../../src/domain/model.js';
import { rawSql } from '../../src/storage/sql-store.js';
import { WahaEmulator } from '../emulators/waha/waha-emulator.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

type Headers = Record<string, string>;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const bearer = (key: string): Headers => ({ authorization: `Bearer ${key}` });

async function call(t: TestGateway, method: string, url: string, headers: Headers, payload?: unknown) {
  return t.app.inject({
    method: method as 'GET',
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

async function instanceIdByName(t: TestGateway, name: string): Promise<string> {
  const rows = await rawSql(t.gw.store).sql.query<{ id: string }>(
    `SELECT id::text AS id FROM ${rawSql(t.gw.store).qschema}.instances WHERE name = $1`,
    [name],
  );
  expect(rows, `instance named ${name}`).toHaveLength(1);
  return rows[0].id;
}

const count = async (t: TestGateway, table: string, instanceId: string): Promise<number> => {
  const rows = await rawSql(t.gw.store).sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${rawSql(t.gw.store).qschema}.${table} WHERE instance_id = $1`,
    [instanceId],
  );
  return Number(rows[0].n);
};

/** A pooled connect must look like one login: one `connected`, never a disconnect or reconnect after it. */
function expectOneCleanLogin(events: GatewayEvent[], instanceId: string, company: string): void {
  const mine = events.filter((e) => e.instance_id === instanceId);
  expect(mine.filter((e) => e.type === 'connected').map((e) => e.company_id)).toEqual([company]);
  const readyAt = mine.findIndex((e) => e.type === 'connected');
  const after = mine.slice(readyAt + 1);
  const statuses = after.filter((e) => e.type === 'instance.status').map((e) => e.data.auth_status);
  expect(statuses.filter((s) => s !== 'client_ready')).toEqual([]);
  expect(after.filter((e) => e.type === 'logout' || e.type === 'pool.released')).toEqual([]);
}

describe('warm-pool recycling is a clean slate (simulator)', () => {
  let t: TestGateway;
  const events: GatewayEvent[] = [];
  let a: Headers;
  let b: Headers;
  let instanceId = '';
  let aInstanceKey = '';

  beforeAll(async () => {
    t = await startTestGateway({
      listen: true,
      env: {
        POOL_ENABLED: 'on',
        POOL_PROVIDER: 'simulator',
        POOL_SIZE: '1',
        POOL_MIN_FREE: '0',
        POOL_REFILL: '1',
        WEBHOOK_ALLOW_PRIVATE: 'on',
      },
    });
    t.gw.bus.subscribe((e) => events.push(e));
    await t.gw.pool.fill();
    await eventually(async () => (await t.gw.pool.stats()).ready === 1, 20_000);
    a = await createCompany(t, 'tenant-a');
    b = await createCompany(t, 'tenant-b');
  }, 60_000);
  afterAll(() => t?.close());

  it('a pooled connect is one login: one client_ready, no disconnect, a send at once succeeds', async () => {
    const res = await call(t, 'POST', '/api/whatsapp/connect', a);
    expect(res.statusCode, res.body).toBe(200);
    instanceId = await instanceIdByName(t, res.json().instanceName);
    const scan = await call(t, 'POST', `/api/v1/instances/${instanceId}/simulate/scan`, t.admin, {
      phone: '5511999990001',
    });
    expect(scan.statusCode, scan.body).toBe(200);
    const sent = await call(t, 'POST', `/api/v1/instances/${instanceId}/messages`, a, {
      to: '5511888880001',
      text: 'right after connecting',
    });
    expect(sent.statusCode, sent.body).toBe(201);
    // An inbound message after the send: every effect of the login has been handled by the time it is stored.
    const inbound = await call(t, 'POST', `/api/v1/instances/${instanceId}/simulate/inbound`, t.admin, {
      from: '5511777770001',
      text: 'private to tenant A',
    });
    expect(inbound.statusCode, inbound.body).toBe(200);
    await eventually(() => events.some((e) => e.type === 'message' && e.instance_id === instanceId));
    expectOneCleanLogin(events, instanceId, 'tenant-a');
    const claimedAt = events.findIndex((e) => e.type === 'pool.assigned' && e.instance_id === instanceId);
    const since = events.slice(claimedAt).filter((e) => e.instance_id === instanceId);
    expect(new Set(since.map((e) => e.company_id))).toEqual(new Set(['tenant-a']));
    expect(t.gw.supervisor.has(instanceId)).toBe(true);
  });

  it("after A disconnects, B gets the same instance and none of A's keys, endpoints, settings or history", async () => {
    const rotated = await call(t, 'POST', `/api/v1/instances/${instanceId}/keys/rotate`, a);
    expect(rotated.statusCode, rotated.body).toBe(200);
    aInstanceKey = rotated.json().api_key;
    const patched = await call(t, 'PATCH', `/api/v1/instances/${instanceId}`, a, {
      name: 'tenant A support line',
      settings: { greeting: 'A only' },
      api_webhook_schema: { url: 'http://127.0.0.1:9/tenant-a-hook' },
      agent: { url: 'http://127.0.0.1:9/tenant-a-agent', agent_id: 'tenant-a-bot' },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    const s = rawSql(t.gw.store).qschema;
    await rawSql(t.gw.store).sql.query(
      `UPDATE ${s}.instances SET mcp_schema = '{"allowed_tools":["send_message"]}'::jsonb WHERE id = $1`,
      [instanceId],
    );
    await rawSql(t.gw.store).sql.query(
      `INSERT INTO ${s}.mcp_audit (instance_id, company_id, tool, args_digest, outcome, latency_ms)
       VALUES ($1, 'tenant-a', 'send_message', 'digest', 'ok', 3)`,
      [instanceId],
    );
    await rawSql(t.gw.store).sql.query(
      `INSERT INTO ${s}.mcp_approvals (instance_id, company_id, tool, request)
       VALUES ($1, 'tenant-a', 'send_message', '{"to":"5511777770001","text":"A pending"}'::jsonb)`,
      [instanceId],
    );
    const before = await call(t, 'GET', `/api/v1/instances/${instanceId}/messages`, bearer(aInstanceKey));
    expect(before.statusCode).toBe(200);
    expect(before.json().messages.length).toBeGreaterThan(0);
    expect(
      (await call(t, 'GET', `/api/v1/instances/${instanceId}/webhooks`, a)).json().webhooks,
    ).toHaveLength(2);

    // A's event stream, opened with the instance key, is cut when the release revokes that key.
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/v1/events?api_key=${aInstanceKey}`);
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });

    const off = await call(t, 'POST', '/api/whatsapp/disconnect', a);
    expect(off.json()).toMatchObject({ success: true });
    expect(await closed).toBe(4401);
    await eventually(async () => {
      const i = await t.gw.store.instances.get(instanceId);
      return i?.assigned_to === null && i.auth_status === 'qr_ready';
    }, 10_000);

    const res = await call(t, 'POST', '/api/whatsapp/connect', b);
    expect(res.statusCode, res.body).toBe(200);
    expect(await instanceIdByName(t, res.json().instanceName)).toBe(instanceId);
    expect(res.json().instanceName).not.toBe('tenant A support line');

    // A's rotated instance key is revoked: no reads, no sends as B.
    const read = await call(t, 'GET', `/api/v1/instances/${instanceId}/messages`, bearer(aInstanceKey));
    expect(read.statusCode).toBe(401);
    expect(read.json().error.code).toBe('SB_ERR_UNAUTHORIZED');
    const send = await call(t, 'POST', `/api/v1/instances/${instanceId}/messages`, bearer(aInstanceKey), {
      to: '5511888880001',
      text: 'sent as B?',
    });
    expect(send.statusCode).toBe(401);
    // A's company key no longer sees the instance.
    expect((await call(t, 'GET', `/api/v1/instances/${instanceId}`, a)).statusCode).toBe(404);

    // B sees a fresh instance: no name, settings, webhook, agent or MCP state of A's, and no history.
    const inst = (await call(t, 'GET', `/api/v1/instances/${instanceId}`, b)).json().instance;
    expect(inst.name).not.toBe('tenant A support line');
    expect(inst).toMatchObject({
      company_id: 'tenant-b',
      settings: {},
      api_webhook_schema: {},
      mcp_schema: {},
      agent: {},
    });
    for (const path of ['messages', 'chats', 'contacts']) {
      const r = await call(t, 'GET', `/api/v1/instances/${instanceId}/${path}`, b);
      expect(r.statusCode, r.body).toBe(200);
      expect(r.json()[path], path).toEqual([]);
    }
    expect((await call(t, 'GET', `/api/v1/instances/${instanceId}/webhooks`, b)).json().webhooks).toEqual([]);
    const approvals = await call(t, 'GET', `/api/v1/instances/${instanceId}/mcp/approvals`, b);
    expect(approvals.json().approvals).toEqual([]);
    const audit = await call(t, 'GET', `/api/v1/instances/${instanceId}/mcp/audit`, b);
    expect(audit.json().entries).toEqual([]);
    for (const table of [
      'webhook_endpoints',
      'mcp_audit',
      'mcp_approvals',
      'messages',
      'chats',
      'contacts',
    ]) {
      expect(await count(t, table, instanceId), table).toBe(0);
    }
    const history = await call(t, 'GET', `/api/v1/instances/${instanceId}/events?since=0`, b);
    expect(history.statusCode, history.body).toBe(200);
    const seen = history.json().events as GatewayEvent[];
    expect(seen.every((e) => e.company_id === 'tenant-b')).toBe(true);
    expect(JSON.stringify(seen)).not.toContain('private to tenant A');
  });
});

describe('WAHA: pooled sessions are handed over without a restart, names cannot be taken over', () => {
  const emu = new WahaEmulator();
  let t: TestGateway;
  const events: GatewayEvent[] = [];
  let a: Headers;
  let instanceId = '';

  beforeAll(async () => {
    await emu.start();
    const port = await freePort();
    t = await startTestGateway({
      env: {
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        WAHA_URL: emu.url,
        POOL_ENABLED: 'on',
        POOL_PROVIDER: 'waha',
        POOL_SIZE: '1',
        POOL_MIN_FREE: '0',
        POOL_REFILL: '1',
      },
    });
    await t.app.listen({ port, host: '127.0.0.1' });
    t.gw.bus.subscribe((e) => events.push(e));
    a = await createCompany(t, 'waha-a');
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await emu.stop();
  });

  it('a pooled WAHA connect is one login and a send right after it succeeds', async () => {
    await t.gw.pool.fill();
    await eventually(async () => (await t.gw.pool.stats()).ready === 1, 20_000);
    const res = await call(t, 'POST', '/api/whatsapp/connect', a);
    expect(res.statusCode, res.body).toBe(200);
    instanceId = await instanceIdByName(t, res.json().instanceName);
    const name = wahaSessionName(instanceId);
    emu.scan(name, '5511999990002');
    await eventually(
      async () => (await t.gw.store.instances.get(instanceId))?.auth_status === 'client_ready',
    );
    const sent = await call(t, 'POST', `/api/v1/instances/${instanceId}/messages`, a, {
      to: '5511888880002',
      text: 'first words',
    });
    expect(sent.statusCode, sent.body).toBe(201);
    const msgId = await emu.inbound(name, '5511777770002@c.us', 'hello A');
    await eventually(async () => t.gw.store.messages.getByMessageId(instanceId, msgId));
    expectOneCleanLogin(events, instanceId, 'waha-a');
    expect(emu.callsTo(`/api/sessions/${name}/stop`)).toEqual([]);
    expect(emu.sessions.get(name)!.status).toBe('WORKING');
  });

  it("seed 004's status.instance disconnected releases the instance; an unauthenticated one changes nothing", async () => {
    const name = wahaSessionName(instanceId);
    const seedBody = { event: 'status.instance', session: name, payload: { status: 'disconnected' } };
    const forged = await call(t, 'POST', '/webhook', { 'content-type': 'application/json' }, seedBody);
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.code).toBe('SB_ERR_UNAUTHORIZED');
    expect((await t.gw.store.instances.get(instanceId))?.assigned_to).toBe('waha-a');

    const hook = emu.sessions.get(name)!.config.webhooks![0] as {
      customHeaders?: { name: string; value: string }[];
    };
    const token = hook.customHeaders!.find((h) => h.name === 'x-switchboard-webhook-token')!.value;
    const ok = await call(
      t,
      'POST',
      '/webhook',
      { 'content-type': 'application/json', 'x-switchboard-webhook-token': token },
      seedBody,
    );
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toEqual({ handled: 'status.instance', released: true });
    const inst = await t.gw.store.instances.get(instanceId);
    expect(inst).toMatchObject({ assigned_to: null, company_id: '__pool__' });
    expect(await count(t, 'messages', instanceId)).toBe(0);
  });

  it("a tenant cannot point its instance at another party's WAHA session", async () => {
    // Someone else's session (WAHA Core's only one) with its own webhook.
    const foreign = await fetch(`${emu.url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'default',
        start: false,
        config: { webhooks: [{ url: 'http://127.0.0.1:9/victim', events: ['message'] }] },
      }),
    });
    expect(foreign.status).toBe(201);
    const created = await call(t, 'POST', '/api/v1/instances', a, {
      company_id: 'waha-a',
      provider: 'waha',
      settings: { session: 'default' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().instance.id;
    expect(emu.sessions.has(wahaSessionName(id))).toBe(true);
    expect(emu.callsTo('/api/sessions/default').filter((c) => c.method !== 'GET')).toEqual([]);
    expect(emu.sessions.get('default')!.config.webhooks).toEqual([
      { url: 'http://127.0.0.1:9/victim', events: ['message'] },
    ]);

    // A session under our derived name that another party rewired is never updated or started by us.
    const name = wahaSessionName(id);
    expect((await call(t, 'POST', `/api/v1/instances/${id}/stop`, a)).statusCode).toBe(200);
    emu.sessions.get(name)!.config = {
      webhooks: [{ url: 'http://127.0.0.1:9/elsewhere', events: ['message'] }],
    };
    const putsBefore = emu.callsTo(`/api/sessions/${name}`).filter((c) => c.method === 'PUT').length;
    const start = await call(t, 'POST', `/api/v1/instances/${id}/start`, a);
    expect(start.statusCode).toBeGreaterThanOrEqual(400);
    expect(emu.callsTo(`/api/sessions/${name}`).filter((c) => c.method === 'PUT')).toHaveLength(putsBefore);
    expect(emu.callsTo(`/api/sessions/${name}/start`)).toEqual([]);
    expect((await t.gw.store.instances.get(id))?.last_error).toMatch(/not managed by this instance/);
  });
});
