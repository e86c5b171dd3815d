// A whole gateway for tests: real store, real Fastify app (inject or listening), simulator provider.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createGateway, type Gateway, shutdownGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { SimulatorNetwork } from '../../src/providers/simulator/network.js';
import { openTestDb, type TestDb } from './db.js';

export const TEST_ADMIN_KEY = 'sb_admin_test_0123456789abcdefghijklmnop';

export interface TestGateway {
  gw: Gateway;
  app: FastifyInstance;
  db: TestDb;
  network: SimulatorNetwork;
  admin: Record<string, string>;
  /** Base URL when started with listen: true. */
  url: string;
  close(opts?: { keepDb?: boolean }): Promise<void>;
}

export async function startTestGateway(
  opts: {
    env?: Record<string, string>;
    listen?: boolean;
    db?: TestDb;
    logs?: { write(line: string): void };
  } = {},
): Promise<TestGateway> {
  const db = opts.db ?? (await openTestDb());
  const config = loadConfig({
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    LOG_LEVEL: 'silent',
    SIMULATOR_ACK_DELAY_MS: '10',
    // Every response of every test is checked against its schema (a mismatch is a 500 and fails the test).
    RESPONSE_VALIDATION: 'on',
    DATABASE_SCHEMA: db.schema,
    // Each test database gets its own inbound spool (created only if something is spooled), so a message spooled
    // by one test is never replayed into another test's database.
    SPOOL_DIR: join(tmpdir(), `sb-spool-${db.schema}`),
    ...opts.env,
  });
  const network = new SimulatorNetwork({
    qrRotateMs: config.simulator.qrRotateMs,
    ackDelayMs: config.simulator.ackDelayMs,
  });
  const gw = createGateway(config, db.store, createLogger(config.logLevel, opts.logs), {
    simulatorNetwork: network,
  });
  // Sessions take leases through the supervisor (one statement per start); only the event bus is started here,
  // not the renew/claim loops, so a test gateway costs what it did (a test calls gw.cluster.start for those).
  await gw.cluster?.startEvents();
  const app = await buildApp(gw);
  let url = '';
  if (opts.listen) url = await app.listen({ port: 0, host: '127.0.0.1' });
  else await app.ready();
  return {
    gw,
    app,
    db,
    network,
    admin: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
    url,
    async close(o = {}) {
      gw.shuttingDown = true;
      await app.close();
      await shutdownGateway(gw);
      if (!o.keepDb) await db.close();
    },
  };
}

/** Creates a company and a company key; returns auth headers for it. */
export async function createCompany(t: TestGateway, id: string): Promise<Record<string, string>> {
  await t.app.inject({
    method: 'POST',
    url: '/api/v1/companies',
    headers: t.admin,
    payload: { id, name: id },
  });
  const res = await t.app.inject({ method: 'POST', url: `/api/v1/companies/${id}/keys`, headers: t.admin });
  if (res.statusCode !== 201) throw new Error(`key creation failed: ${res.body}`);
  return { authorization: `Bearer ${res.json().key}` };
}

/** Creates a simulator instance, scans its QR, and returns it connected (client_ready). */
export async function createConnectedInstance(
  t: TestGateway,
  headers: Record<string, string>,
  companyId: string,
  phone = '15550001234',
): Promise<{ id: string; apiKey: string; account: string }> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/instances',
    headers,
    payload: { company_id: companyId, provider: 'simulator' },
  });
  if (res.statusCode !== 201) throw new Error(`instance creation failed: ${res.body}`);
  const { instance, api_key } = res.json();
  const scan = await t.app.inject({
    method: 'POST',
    url: `/api/v1/instances/${instance.id}/simulate/scan`,
    headers,
    payload: { phone },
  });
  if (scan.statusCode !== 200) throw new Error(`scan failed: ${scan.body}`);
  return { id: instance.id, apiKey: api_key, account: scan.json().account };
}

/** Polls `fn` until it returns a truthy value (for asynchronous effects such as acks), at most `ms`. */
export async function eventually<T>(fn: () => Promise<T> | T, ms = 5000): Promise<NonNullable<T>> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > ms)
      throw new Error(`condition not met within ${ms} ms${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

type Headers = Record<string, string>;

/** POST /api/v1/instances: creates an instance with `payload`; returns the response (status unchecked). */
export function postInstance(t: TestGateway, headers: Headers, payload: Record<string, unknown>) {
  return t.app.inject({ method: 'POST', url: '/api/v1/instances', headers, payload });
}

/** POST /api/v1/instances/:id/messages: sends `payload` (to, text, media…); returns the response (status unchecked). */
export function postMessage(
  t: TestGateway,
  headers: Headers,
  instanceId: string,
  payload: Record<string, unknown>,
) {
  return t.app.inject({ method: 'POST', url: `/api/v1/instances/${instanceId}/messages`, headers, payload });
}

/** POST /api/v1/instances/:id/simulate/inbound: a simulator contact writes to the instance; returns the response. */
export function simulateInbound(
  t: TestGateway,
  headers: Headers,
  instanceId: string,
  payload: { from: string; text: string } & Record<string, unknown>,
) {
  return t.app.inject({
    method: 'POST',
    url: `/api/v1/instances/${instanceId}/simulate/inbound`,
    headers,
    payload,
  });
}
