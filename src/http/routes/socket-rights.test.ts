// Event sockets and MCP under key rights: instance limits (live and replay), revocation on every replica, quotas.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';

interface Sub {
  ws: WebSocket;
  frames: Array<Record<string, any>>;
  closed: Promise<{ code: number }>;
}

function open(url: string): Promise<Sub> {
  return new Promise((resolve, reject) => {
    const frames: Array<Record<string, any>> = [];
    const ws = new WebSocket(url);
    const closed = new Promise<{ code: number }>((r) => ws.on('close', (code) => r({ code })));
    ws.on('message', (raw) => frames.push(JSON.parse(String(raw))));
    ws.on('open', () => resolve({ ws, frames, closed }));
    ws.on('error', reject);
    ws.on('unexpected-response', (_q, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c;
      });
      res.on('end', () =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })),
      );
    });
  });
}

/** The status and error code of a refused upgrade. */
async function refused(url: string): Promise<{ status: number; code: string }> {
  try {
    const s = await open(url);
    s.ws.close();
    return { status: 101, code: '' };
  } catch (err) {
    const e = err as { status: number; body: string };
    return { status: e.status, code: JSON.parse(e.body).error.code };
  }
}

const key = (h: Record<string, string>) => h.authorization.replace(/^Bearer /, '');
const instanceOf = (f: Record<string, any>) => f.instance_id ?? f.instanceId;

describe('event sockets and MCP under key rights', () => {
  let t: TestGateway;
  let full: Record<string, string>;
  let a: { id: string; apiKey: string };
  let b: { id: string; apiKey: string };
  let v1: string;
  let seed: string;

  const call = (method: string, url: string, headers: Record<string, string>, payload?: object) =>
    t.app.inject({ method: method as 'GET', url, headers, payload });
  const inbound = async (id: string, text: string) => {
    const r = await call('POST', `/api/v1/instances/${id}/simulate/inbound`, full, {
      from: '79001234567',
      text,
    });
    expect(r.statusCode, r.body).toBe(200);
  };
  const issue = async (body: object, company = 'acme', headers = full) => {
    const r = await call('POST', `/api/v1/companies/${company}/keys`, headers, body);
    expect(r.statusCode, r.body).toBe(201);
    return { key: r.json().key as string, id: r.json().api_key.id as string };
  };

  beforeAll(async () => {
    t = await startTestGateway({
      listen: true,
      env: { WS_MAX_CONNECTIONS_PER_COMPANY: '3', INSTANCES_MAX_PER_COMPANY: '3' },
    });
    full = await createCompany(t, 'acme');
    a = await createConnectedInstance(t, full, 'acme', '15550200001');
    b = await createConnectedInstance(t, full, 'acme', '15550200002');
    const ws = t.url.replace('http', 'ws');
    v1 = `${ws}/api/v1/events`;
    seed = `${ws}/api/whatsapp/events`;
  }, 180_000);
  afterAll(async () => t?.close());

  it('a key limited to instance a streams only instance a, live and in the replay, on both event routes', async () => {
    const start = await t.gw.store.events.latestId();
    await inbound(a.id, 'before-a');
    await inbound(b.id, 'before-b');
    const limited = await issue({ instance_ids: [a.id] });
    for (const [route, k] of [
      [v1, limited.key],
      [seed, limited.key],
      [seed, a.apiKey],
    ] as const) {
      const sub = await open(`${route}?api_key=${k}&since=${start}`);
      await inbound(b.id, `live-b ${route}`);
      await inbound(a.id, `live-a ${route}`);
      await eventually(() => sub.frames.find((f) => JSON.stringify(f).includes(`live-a ${route}`)));
      const seen = new Set(sub.frames.map(instanceOf));
      expect([...seen], `${route} with ${k.slice(0, 10)}`).toEqual([a.id]);
      expect(JSON.stringify(sub.frames)).toContain('before-a');
      expect(JSON.stringify(sub.frames)).not.toContain('before-b');
      sub.ws.close();
      await sub.closed;
    }
  });

  it('revoking a company key closes its sockets on both routes at once', async () => {
    const k = await issue({ scopes: ['read'] });
    const s1 = await open(`${v1}?api_key=${k.key}`);
    const s2 = await open(`${seed}?api_key=${k.key}`);
    const del = await call('DELETE', `/api/v1/companies/acme/keys/${k.id}`, full);
    expect(del.statusCode).toBe(200);
    // Closed by the revocation itself (event-driven), not by a timer or the lookup cache expiring.
    const [c1, c2] = await Promise.all([s1.closed, s2.closed]);
    expect(c1.code).toBe(4401);
    expect(c2.code).toBe(4401);
    expect((await refused(`${v1}?api_key=${k.key}`)).status).toBe(401);
  });

  it('rotating an instance key closes the old key’s sockets; the new key streams', async () => {
    const s1 = await open(`${v1}?api_key=${b.apiKey}`);
    const s2 = await open(`${seed}?api_key=${b.apiKey}`);
    const rot = await call('POST', `/api/v1/instances/${b.id}/keys/rotate`, full);
    expect(rot.statusCode).toBe(200);
    expect((await s1.closed).code).toBe(4401);
    expect((await s2.closed).code).toBe(4401);
    b.apiKey = rot.json().api_key;
    const fresh = await open(`${v1}?api_key=${b.apiKey}`);
    expect(fresh.ws.readyState).toBe(WebSocket.OPEN);
    fresh.ws.close();
    await fresh.closed;
  });

  it('caps open sockets per company over both routes (429) and instances per company (403)', async () => {
    const capped = await createCompany(t, 'capped');
    const subs = [
      await open(`${seed}?api_key=${key(capped)}`),
      await open(`${seed}?api_key=${key(capped)}`),
      await open(`${v1}?api_key=${key(capped)}`),
    ];
    expect(await refused(`${seed}?api_key=${key(capped)}`)).toEqual({
      status: 429,
      code: 'SB_ERR_RATE_LIMITED',
    });
    expect(await refused(`${v1}?api_key=${key(capped)}`)).toEqual({
      status: 429,
      code: 'SB_ERR_RATE_LIMITED',
    });
    // Another company is not affected by capped's streams.
    const other = await open(`${seed}?api_key=${key(full)}`);
    other.ws.close();
    subs[0].ws.close();
    await subs[0].closed;
    const again = await open(`${seed}?api_key=${key(capped)}`);
    for (const s of [...subs.slice(1), again]) s.ws.close();

    const create = () =>
      call('POST', '/api/v1/instances', capped, {
        company_id: 'capped',
        provider: 'simulator',
        start: false,
      });
    for (let i = 0; i < 3; i++) expect((await create()).statusCode).toBe(201);
    const over = await create();
    expect(over.statusCode).toBe(403);
    expect(over.json().error).toMatchObject({ code: 'SB_ERR_QUOTA_EXCEEDED', details: { limit: 3 } });
    expect((await t.gw.store.instances.list({ company_id: 'capped', limit: 100 })).items).toHaveLength(3);
    // The operator's admin key is exempt.
    const byAdmin = await call('POST', '/api/v1/instances', t.admin, {
      company_id: 'capped',
      provider: 'simulator',
      start: false,
    });
    expect(byAdmin.statusCode).toBe(201);
  });
});

describe('revocation reaches the other replica', () => {
  let a: TestGateway;
  let b: TestGateway;
  let full: Record<string, string>;

  beforeAll(async () => {
    const env = { CLUSTER_MODE: 'on', LEASE_RENEW_MS: '200', LEASE_TTL_MS: '2000' };
    a = await startTestGateway({ listen: true, env: { ...env, REPLICA_ID: 'rev-a' } });
    b = await startTestGateway({ listen: true, db: a.db, env: { ...env, REPLICA_ID: 'rev-b' } });
    await a.gw.cluster!.start(a.gw.supervisor);
    await b.gw.cluster!.start(b.gw.supervisor);
    full = await createCompany(a, 'acme');
  }, 240_000);
  afterAll(async () => {
    await b?.close({ keepDb: true });
    await a?.close();
  });

  it('a key revoked on replica A closes its sockets and MCP access on replica B', async () => {
    const created = await a.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: full,
      payload: { company_id: 'acme', provider: 'simulator', type_instance: ['api', 'mcp'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const instanceId = created.json().instance.id as string;
    const issued = await a.app.inject({ method: 'POST', url: '/api/v1/companies/acme/keys', headers: full });
    const k = issued.json().key as string;
    const wsB = b.url.replace('http', 'ws');
    const s1 = await open(`${wsB}/api/v1/events?api_key=${k}`);
    const s2 = await open(`${wsB}/api/whatsapp/events?api_key=${k}`);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${b.url}/mcp/${instanceId}`), {
        requestInit: { headers: { authorization: `Bearer ${k}` } },
      }),
    );
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);

    const del = await a.app.inject({
      method: 'DELETE',
      url: `/api/v1/companies/acme/keys/${issued.json().api_key.id}`,
      headers: full,
    });
    expect(del.statusCode).toBe(200);
    const [c1, c2] = await Promise.all([s1.closed, s2.closed]);
    expect([c1.code, c2.code]).toEqual([4401, 4401]);
    // Replica B has dropped the key from its cache as well: the MCP session's next call is refused.
    await expect(client.listTools()).rejects.toThrow(/401|unauthori[sz]ed|revoked/i);
    await client.close();
    // Two gateways and an MCP handshake: slow on a loaded machine, so more than the default 30 s.
  }, 120_000);
});
