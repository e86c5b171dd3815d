// Chaos on PostgreSQL with DEFAULT settings: gateway processes share one database and one WhatsApp account on the
// emulator; the emulator counts every second live login of the device (WhatsApp's 440 conflict): never one.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/ports/store.js';
import { createPgDriver } from '../../src/storage/pg-driver.js';
import type { Driver } from '../../src/storage/sql.js';
import { createSqlStore } from '../../src/storage/sql-store.js';
import { WhatsAppEmulator } from '../emulators/whatsapp/emulator.js';
import { eventually } from '../support/gateway.js';
import { type GatewayProcess, spawnGateway } from '../support/process.js';

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ADMIN = 'sb_admin_chaos_0123456789abcdefghijklmnop';
const PHONE = '15550007777';
const CONTACT = '4915112345678';

describe('two gateway processes, default settings, one WhatsApp account', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  let emu: WhatsAppEmulator;
  let driver: Driver;
  let store: Store;
  const procs: Record<string, GatewayProcess> = {};
  let maxLive = 0;
  let sampler: NodeJS.Timeout | undefined;
  let id = '';
  const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

  // Default settings: no CLUSTER_MODE, no Redis, default lease timing (empty values override a developer's env).
  const env = () => ({
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    ADMIN_API_KEY: ADMIN,
    WHATSAPP_WS_URL: emu.url,
    WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey.toString('base64'),
    REDIS_URL: '',
    CLUSTER_MODE: '',
    LEASE_RENEW_MS: '',
    LEASE_TTL_MS: '',
    REPLICA_ID: '',
  });
  const call = async (p: GatewayProcess, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${p.url}${path}`, {
      method,
      headers: admin,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const sessionsOf = async (p: GatewayProcess) =>
    ((await call(p, 'GET', '/api/v1/cluster')).json.sessions as string[]) ?? [];
  const instance = () => store.instances.get(id);
  const context = () =>
    Object.entries(procs)
      .map(([n, p]) => `--- ${n}\n${p.output().slice(-4000)}`)
      .join('\n');

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    driver = createPgDriver({ url: DATABASE_URL, ssl: false, poolSize: 2 });
    store = createSqlStore(driver, schema);
    procs.a = await spawnGateway(env(), 400_000);
    procs.b = await spawnGateway(env(), 400_000);
    sampler = setInterval(() => {
      maxLive = Math.max(maxLive, emu.liveConnections(PHONE));
    }, 5);
  }, 900_000);

  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    for (const p of Object.values(procs)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    await Promise.all(Object.values(procs).map((p) => p.exited));
    await driver?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await driver?.close();
    await emu?.close();
  });

  it('logs the account in once; the other process serves the API through the owner', {
    timeout: 400_000,
  }, async () => {
    expect((await call(procs.a, 'POST', '/api/v1/companies', { id: 'chaos', name: 'chaos' })).status).toBe(
      201,
    );
    const created = await call(procs.b, 'POST', '/api/v1/instances', {
      company_id: 'chaos',
      provider: 'whatsapp',
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    id = (created.json.instance as { id: string }).id;
    const qr = await eventually(async () => (await instance())?.qr, 60_000);
    await emu.scanQr(qr, { phone: PHONE });
    await eventually(async () => (await instance())?.auth_status === 'client_ready', 60_000);
    const [onA, onB] = [await sessionsOf(procs.a), await sessionsOf(procs.b)];
    expect([onA.includes(id), onB.includes(id)].filter(Boolean), context()).toHaveLength(1);
    const other = onA.includes(id) ? procs.b : procs.a;
    const sent = await call(other, 'POST', `/api/v1/instances/${id}/messages`, {
      to: `+${CONTACT}`,
      text: 'via other',
    });
    expect(sent.status, JSON.stringify(sent.json)).toBeLessThan(300);
    await eventually(() => emu.sentMessages(PHONE).some((m) => m.text === 'via other'), 30_000);
    expect(emu.liveConnections(PHONE)).toBe(1);
    expect(emu.conflicts(PHONE)).toBe(0);
  });

  it('SIGKILL of the owner: the other process takes the session over after the lease expires, once', {
    timeout: 400_000,
  }, async () => {
    const ownerName = (await sessionsOf(procs.a)).includes(id) ? 'a' : 'b';
    const owner = procs[ownerName]!;
    const survivor = procs[ownerName === 'a' ? 'b' : 'a']!;
    const killedAt = Date.now();
    owner.child.kill('SIGKILL');
    await owner.exited;
    await eventually(async () => (await sessionsOf(survivor)).includes(id), 90_000);
    await eventually(
      async () => (await instance())?.auth_status === 'client_ready' && emu.liveConnections(PHONE) === 1,
      60_000,
    );
    const takeoverMs = Date.now() - killedAt;
    process.stderr.write(`leases-chaos: takeover after SIGKILL with default settings: ${takeoverMs} ms\n`);
    const sent = await call(survivor, 'POST', `/api/v1/instances/${id}/messages`, {
      to: `+${CONTACT}`,
      text: 'after takeover',
    });
    expect(sent.status, JSON.stringify(sent.json)).toBeLessThan(300);
    await eventually(() => emu.sentMessages(PHONE).some((m) => m.text === 'after takeover'), 30_000);
    expect(emu.conflicts(PHONE), context()).toBe(0);
    expect(maxLive).toBe(1);
  });

  it('a rolling deploy (new process up, old one stopped with SIGTERM) never runs the session twice', {
    timeout: 600_000,
  }, async () => {
    const old = Object.entries(procs).find(
      ([, p]) => p.child.exitCode === null && p.child.signalCode === null,
    )!;
    procs.c = await spawnGateway(env(), 400_000);
    // The new process joins while the old one still runs the session: it must leave it alone.
    await new Promise((r) => setTimeout(r, 7_000));
    expect(await sessionsOf(procs.c)).not.toContain(id);
    old[1].child.kill('SIGTERM');
    expect(await old[1].exited).toBe(0);
    await eventually(async () => (await sessionsOf(procs.c!)).includes(id), 60_000);
    await eventually(
      async () => (await instance())?.auth_status === 'client_ready' && emu.liveConnections(PHONE) === 1,
      60_000,
    );
    expect(emu.conflicts(PHONE), context()).toBe(0);
    expect(maxLive).toBe(1);
  });
});
