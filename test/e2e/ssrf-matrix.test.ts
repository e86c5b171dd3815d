// SSRF matrix (issue 14): every outbound path of a real gateway aimed at a loopback canary that must hear nothing.
//
// The gateway's guarded fetch gets an injected resolver (names never reach a real DNS server) and the real IANA
// policy with one exception, 127.0.0.2, which stands in for a public host (it serves redirects to the canary).
// Registration checks that use the system resolver only ever see IP literals and `localhost`.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { endpointSync, WebhookService } from '../../src/delivery/webhooks/service.js';
import { createGateway, type Gateway, shutdownGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { parseMcpPolicy } from '../../src/mcp/policy.js';
import { createMcpServer } from '../../src/mcp/server.js';
import { SimulatorNetwork } from '../../src/providers/simulator/network.js';
import { blockedReason } from '../../src/runtime/outbound/address-policy.js';
import { createGuardedFetch, type Resolver } from '../../src/runtime/outbound/guarded-fetch.js';
import { rawSql } from '../../src/storage/sql-store.js';
import { FakeBotApi } from '../emulators/telegram/fake-bot-api.js';
import { openTestDb, type TestDb } from '../support/db.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  TEST_ADMIN_KEY,
  type TestGateway,
} from '../support/gateway.js';

const BOT_TOKEN = '987654321:AAFfakeTOKENfakeTOKENfakeTOKEN_xyz-9';

async function serve(host: string, handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

let canary: { server: Server; port: number };
const hits: string[] = [];
let relay: { server: Server; port: number };
let db: TestDb;
let gw: Gateway;
let app: FastifyInstance;
const fake = new FakeBotApi();
let acme: Record<string, string>;

/** Names the gateway's guarded fetch resolves; `rebind.test` answered "public" to the registration check. */
const resolver: Resolver = async (host) => {
  const table: Record<string, string[]> = {
    'relay.test': ['127.0.0.2'],
    'rebind.test': ['127.0.0.1'],
    'mapped.test': ['::ffff:127.0.0.1'],
    'nat64.test': ['64:ff9b::7f00:1'],
    'sixtofour.test': ['2002:7f00:1::'],
    'metadata.test': ['169.254.169.254'],
    localhost: ['127.0.0.1'],
  };
  const ips = table[host];
  if (!ips) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return ips.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};
/** What the registration check was told (DNS rebinding: the answer changes before delivery). */
const publicAnswer: Resolver = async () => [{ address: '93.184.215.14', family: 4 }];

/** Every spelling of the canary as an IP literal or `localhost` (safe for the system resolver). */
const literals = () => {
  const p = canary.port;
  return [
    `http://127.0.0.1:${p}/x`,
    `http://2130706433:${p}/x`,
    `http://0177.0.0.1:${p}/x`,
    `http://0x7f.1:${p}/x`,
    `http://127.1:${p}/x`,
    `http://[::1]:${p}/x`,
    `http://[::ffff:127.0.0.1]:${p}/x`,
    `http://[::ffff:0:7f00:1]:${p}/x`,
    `http://[2002:7f00:1::]:${p}/x`,
    `http://[64:ff9b::7f00:1]:${p}/x`,
    `http://localhost:${p}/x`,
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
  ];
};
/** Literals plus names that resolve (through the injected resolver) to the canary, and a redirect to it. */
const everySpelling = () => [
  ...literals(),
  ...['rebind.test', 'mapped.test', 'nat64.test', 'sixtofour.test', 'metadata.test'].map(
    (h) => `http://${h}:${canary.port}/x`,
  ),
  `http://relay.test:${relay.port}/to-canary`,
  `http://127.0.0.2:${relay.port}/to-canary-mapped`,
];

beforeAll(async () => {
  canary = await serve('127.0.0.1', (req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('internal secret');
  });
  relay = await serve('127.0.0.2', (req, res) => {
    const target =
      req.url === '/to-canary-mapped'
        ? `http://[::ffff:7f00:1]:${canary.port}/via-redirect`
        : `http://127.0.0.1:${canary.port}/via-redirect`;
    res.writeHead(302, { location: target }).end();
  });
  fake.addBot(BOT_TOKEN, { id: 987654321, username: 'ssrf_matrix_bot' });
  await fake.start();
  db = await openTestDb();
  const config = loadConfig({
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    LOG_LEVEL: 'silent',
    SIMULATOR_ACK_DELAY_MS: '10',
    RESPONSE_VALIDATION: 'on',
    DATABASE_SCHEMA: db.schema,
    TELEGRAM_API_ROOT: fake.url,
    PUBLIC_URL: 'https://gw.example.test',
    WEBHOOK_RETRY_SCHEDULE: '0',
    WEBHOOK_WORKER_INTERVAL_MS: '50',
  });
  const outbound = createGuardedFetch({
    allowPrivate: config.outbound.allowPrivate,
    resolve: resolver,
    blocked: (ip) => (ip === '127.0.0.2' ? null : blockedReason(ip)),
    timeoutMs: 3000,
    maxRedirects: 3,
  });
  gw = createGateway(config, db.store, createLogger('silent'), {
    simulatorNetwork: new SimulatorNetwork({ ackDelayMs: 10 }),
    outbound,
  });
  app = await buildApp(gw);
  await app.ready();
  const t = { app, gw, admin: { authorization: `Bearer ${TEST_ADMIN_KEY}` } } as unknown as TestGateway;
  acme = await createCompany(t, 'acme');
});

afterAll(async () => {
  if (gw) {
    gw.shuttingDown = true;
    await app?.close();
    await shutdownGateway(gw);
  }
  await db?.close();
  await fake.stop();
  for (const s of [canary?.server, relay?.server]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});

const connected = async (phone: string) =>
  createConnectedInstance({ app, gw } as unknown as TestGateway, acme, 'acme', phone);

const inbound = (id: string, text: string) =>
  app.inject({
    method: 'POST',
    url: `/api/v1/instances/${id}/simulate/inbound`,
    headers: acme,
    payload: { from: '14155552671', text },
  });

/** The attempts of an instance's endpoint of `kind`, once the worker has tried it. */
const attempts = (instanceId: string, kind: 'webhook' | 'agent') =>
  eventually(async () => {
    const rows = await rawSql(gw.store).sql.query(
      `SELECT d.status, d.last_status_code, d.last_error FROM ${rawSql(gw.store).qschema}.webhook_deliveries d
         JOIN ${rawSql(gw.store).qschema}.webhook_endpoints e ON e.id = d.endpoint_id
        WHERE e.instance_id = $1 AND e.kind = $2 AND d.status <> 'pending'`,
      [instanceId, kind],
    );
    return rows.length
      ? (rows as Array<{ status: string; last_status_code: number | null; last_error: string }>)
      : null;
  }, 10_000);

describe('SSRF matrix: the canary hears nothing', () => {
  it('webhook and agent registration refuse every literal spelling (400, nothing stored)', async () => {
    const inst = await connected('15550007001');
    for (const url of literals()) {
      const put = await app.inject({
        method: 'PUT',
        url: `/api/v1/instances/${inst.id}/webhooks`,
        headers: acme,
        payload: { url, events: ['message'] },
      });
      expect(put.statusCode, url).toBe(400);
      expect(put.json().error.code, url).toBe('SB_ERR_VALIDATION');
      const patch = await app.inject({
        method: 'PATCH',
        url: `/api/v1/instances/${inst.id}`,
        headers: acme,
        payload: { agent: { url, agent_id: 'support', enabled: true } },
      });
      expect(patch.statusCode, url).toBe(400);
    }
    const rows = await rawSql(gw.store).sql.query(
      `SELECT 1 FROM ${rawSql(gw.store).qschema}.webhook_endpoints WHERE instance_id = $1`,
      [inst.id],
    );
    expect(rows).toHaveLength(0);
    expect(hits).toEqual([]);
  });

  it('webhook delivery: a host that rebinds to the canary is refused at connect time', async () => {
    const inst = await connected('15550007002');
    const row = (await gw.store.instances.get(inst.id))!;
    const registration = new WebhookService(gw.store, { allowPrivate: false, resolve: publicAnswer });
    await registration.putInstanceWebhook(row, { url: `http://rebind.test:${canary.port}/hook` });
    expect((await inbound(inst.id, 'hello')).statusCode).toBe(200);
    const [d] = await attempts(inst.id, 'webhook');
    expect(d).toMatchObject({ status: 'failed', last_status_code: null });
    expect(d.last_error).toMatch(/does not contact/);
    expect(d.last_error).not.toMatch(/127\.0\.0\.1|internal secret/);
    expect(hits).toEqual([]);
  });

  it('webhook delivery: a redirect to the canary is not followed', async () => {
    const inst = await connected('15550007003');
    const row = (await gw.store.instances.get(inst.id))!;
    const registration = new WebhookService(gw.store, { allowPrivate: false, resolve: publicAnswer });
    await registration.putInstanceWebhook(row, { url: `http://relay.test:${relay.port}/to-canary` });
    await inbound(inst.id, 'hello');
    const [d] = await attempts(inst.id, 'webhook');
    expect(d).toMatchObject({ status: 'failed', last_status_code: 302 });
    expect(hits).toEqual([]);
  });

  it('agent bridge: an agent host that rebinds to the canary is refused at connect time', async () => {
    const inst = await connected('15550007004');
    const row = (await gw.store.instances.get(inst.id))!;
    const sync = endpointSync({ allowPrivate: false, resolve: publicAnswer });
    await gw.store.tx((tx) =>
      sync(tx, row, { agent: { url: `http://rebind.test:${canary.port}`, agent_id: 'support' } }),
    );
    await inbound(inst.id, 'what are your hours?');
    const [d] = await attempts(inst.id, 'agent');
    expect(d.status).toBe('failed');
    expect(d.last_error).toMatch(/does not contact/);
    expect(hits).toEqual([]);
  });

  it('MCP: send_media refuses the spellings, download_media refuses stored URLs and redirects', async () => {
    const inst = await connected('15550007005');
    await app.inject({
      method: 'PATCH',
      url: `/api/v1/instances/${inst.id}`,
      headers: acme,
      payload: { type_instance: ['mcp'] },
    });
    const principal = (await gw.keys.resolve(inst.apiKey))!;
    // The simulator declares no media capability; the MCP server sees it with one so its media tools exist.
    const sim = gw.instances.provider('simulator');
    const rich = { ...sim, capabilities: new Set([...sim.capabilities, 'media' as const]) };
    const instances = Object.assign(Object.create(gw.instances), {
      provider: (n: string) => (n === 'simulator' ? rich : gw.instances.provider(n)),
    });
    const built = createMcpServer({
      services: { ...gw, instances },
      principal,
      instance: (await gw.store.instances.get(inst.id))!,
      policy: parseMcpPolicy({ only_chats_that_wrote_first: false }),
      resolve: async () => ['93.184.215.14'],
    });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await built.server.connect(a);
    const client = new Client({ name: 'ssrf', version: '1.0.0' });
    await client.connect(b);
    const call = async (name: string, args: Record<string, unknown>) =>
      (await client.callTool({ name, arguments: args })) as CallToolResult;
    const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['send_media', 'download_media']));
    for (const url of literals()) {
      const r = await call('send_media', { to: '+4915112349102', url });
      expect(r.isError, url).toBe(true);
      expect(text(r), url).toMatch(/private-network|SB_ERR_VALIDATION|SB_ERR_URL_BLOCKED/);
    }
    let n = 0;
    for (const url of everySpelling()) {
      n += 1;
      await gw.store.messages.upsert({
        instance_id: inst.id,
        company_id: 'acme',
        message_id: `SSRF${n}`,
        chat_id: '4915112349103@s.whatsapp.net',
        from: '4915112349103@s.whatsapp.net',
        to: null,
        body: null,
        type: 'image',
        is_from_me: false,
        is_group: false,
        group_id: null,
        contact_name: null,
        reply_to: null,
        media: { mimetype: 'image/png', filename: 'x.png', url },
        status: 'received',
        timestamp: new Date().toISOString(),
      });
      const r = await call('download_media', { message_id: `SSRF${n}` });
      expect(r.isError, url).toBe(true);
      expect(text(r), url).toMatch(/SB_ERR_URL_BLOCKED/);
      expect(text(r), url).not.toMatch(/internal secret/);
    }
    await client.close();
    expect(hits).toEqual([]);
  });

  it('Telegram media by URL through the API: every spelling and redirect is a 400 SB_ERR_URL_BLOCKED', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: acme,
      payload: { company_id: 'acme', provider: 'telegram', token: BOT_TOKEN },
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().instance.id;
    for (const url of everySpelling()) {
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/instances/${id}/messages`,
        headers: acme,
        payload: { to: '-100200', media: { url, mimetype: 'application/pdf' } },
      });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code, url).toBe('SB_ERR_URL_BLOCKED');
      expect(res.body).not.toMatch(/internal secret|127\.0\.0\.1/);
    }
    expect(fake.callsOf('sendDocument')).toHaveLength(0);
    expect(hits).toEqual([]);
  });
});

describe('the operator opt-out', () => {
  it('OUTBOUND_ALLOW_PRIVATE (or its old name WEBHOOK_ALLOW_PRIVATE) lets every path reach loopback', async () => {
    for (const env of [{ OUTBOUND_ALLOW_PRIVATE: 'on' }, { WEBHOOK_ALLOW_PRIVATE: 'true' }]) {
      const c = loadConfig(env);
      expect(c.outbound.allowPrivate).toBe(true);
      expect(c.webhooks.allowPrivate).toBe(true);
    }
    expect(loadConfig({}).outbound.allowPrivate).toBe(false);
    const optOut = createGuardedFetch({ allowPrivate: true, resolve: resolver });
    const body = await optOut.download(`http://localhost:${canary.port}/opt-out`, { maxBytes: 100 });
    expect(body.toString()).toBe('internal secret');
    expect(hits).toEqual(['GET /opt-out']);
  });
});
