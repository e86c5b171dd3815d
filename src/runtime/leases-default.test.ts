// Two gateways on one PostgreSQL database with DEFAULT settings (no CLUSTER_MODE, no Redis): one owner per session.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../test/support/db.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../test/support/gateway.js';
import type { GatewayEvent } from '../domain/model.js';

describe('leases by default on PostgreSQL', () => {
  let db: TestDb;
  let a: TestGateway;
  let b: TestGateway;
  let headers: Record<string, string>;
  let id = '';

  beforeAll(async () => {
    db = await openTestDb('postgres');
    // What `serve` does, with no CLUSTER_MODE and no Redis. A long TTL only keeps a CPU-starved test process from
    // losing its lease mid-test (a graceful handover never waits for it).
    const env = { LEASE_RENEW_MS: '1000', LEASE_TTL_MS: '60000' };
    a = await startTestGateway({ db, env });
    await a.gw.cluster!.start(a.gw.supervisor);
    b = await startTestGateway({ db, env });
    await b.gw.cluster!.start(b.gw.supervisor);
    headers = await createCompany(a, 'acme');
  });

  afterAll(async () => {
    await b?.close({ keepDb: true });
    await a?.close({ keepDb: true });
    await db?.close();
  });

  it('runs a session only on the process holding its lease; the other serves the API through it', async () => {
    ({ id } = await createConnectedInstance(a, headers, 'acme', '15550002001'));
    expect(a.gw.supervisor.has(id)).toBe(true);
    for (let i = 0; i < 3; i++) await b.gw.cluster!.tick();
    expect(b.gw.supervisor.has(id)).toBe(false);
    expect(await b.gw.cluster!.leases.owner(id)).toBe(a.gw.cluster!.replicaId);

    const view = (await b.app.inject({ method: 'GET', url: '/api/v1/cluster', headers: b.admin })).json();
    expect(view).toMatchObject({ enabled: true, transport: { events: 'log-tail', commands: 'sql' } });

    const seenOnB: GatewayEvent[] = [];
    const off = b.gw.bus.subscribe((e) => seenOnB.push(e));
    const send = await b.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/messages`,
      headers,
      payload: { to: '+4915112345678', text: 'via the second process' },
    });
    expect(send.statusCode, send.body).toBeLessThan(300);
    expect(b.gw.supervisor.has(id)).toBe(false);
    await eventually(() => seenOnB.some((e) => e.type === 'message' && e.instance_id === id));
    off();
  });

  it('a graceful stop of the owner (rolling deploy) hands the session over, never running it twice', async () => {
    await a.close({ keepDb: true });
    expect(a.gw.supervisor.has(id)).toBe(false);
    await b.gw.cluster!.tick();
    expect(b.gw.supervisor.has(id)).toBe(true);
    await eventually(async () => (await db.store.instances.get(id))?.auth_status === 'client_ready');
  });
});
