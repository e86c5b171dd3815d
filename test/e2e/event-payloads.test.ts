// The event schemas describe what the gateway really emits: a simulator gateway runs the main flows, and every event in
// its log (and every webhook body) must match its type's schema strictly, so a field added or renamed is caught.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayEvent } from '../../src/domain/model.js';
import { eventProblems } from '../support/event-schemas.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../support/gateway.js';
import { type Receiver, startReceiver } from './webhook-receiver.js';

const problems = eventProblems;

describe('event payload schemas', () => {
  it('reject a payload with an unknown field or a missing one (the check below can fail)', () => {
    const ack = { id: 'a', message_id: 'm', chat_id: 'c', status: 'read' };
    expect(problems({ type: 'message.ack', data: ack })).toEqual([]);
    expect(problems({ type: 'message.ack', data: { ...ack, extra: 1 } })).not.toEqual([]);
    expect(problems({ type: 'message.ack', data: { ...ack, chat_id: undefined } })).not.toEqual([]);
    expect(problems({ type: 'nope', data: {} })).toEqual(['unknown event type nope']);
  });
});

describe('every event the gateway emits matches its schema', () => {
  let t: TestGateway;
  let rx: Receiver;
  beforeAll(async () => {
    t = await startTestGateway({
      env: {
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_RETRY_SCHEDULE: '0,10ms',
        WEBHOOK_WORKER_INTERVAL_MS: '20',
      },
    });
    rx = await startReceiver();
  });
  afterAll(async () => {
    await t?.close();
    await rx?.close();
  });

  it('through connect, inbound, send and acks, drop, webhook failures, key rotation, logout and delete', async () => {
    const acme = await createCompany(t, 'acme');
    // Webhooks: one that receives everything and answers 200, one that always fails (dead letter), one gone (410).
    rx.respond = (r) =>
      r.path === '/fail'
        ? { status: 500, body: 'boom' }
        : r.path === '/gone'
          ? { status: 410 }
          : { status: 200 };
    for (const path of ['/all', '/fail', '/gone']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/companies/acme/webhooks',
        headers: acme,
        payload: { url: `${rx.url}${path}`, events: path === '/all' ? [] : ['message'] },
      });
      expect(res.statusCode, res.body).toBe(201);
    }

    // Create, show a QR, scan: instance.created, instance.status, qr, connected.
    const inst = await createConnectedInstance(t, acme, 'acme', '15550001234');
    const inbound = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/simulate/inbound`,
      headers: acme,
      payload: { from: '14155552671', text: 'hello', name: 'Ann' },
    });
    expect(inbound.statusCode, inbound.body).toBe(200);
    const sent = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/messages`,
      headers: acme,
      payload: { to: '14155552671', text: 'hi back' },
    });
    expect(sent.statusCode, sent.body).toBeLessThan(300);
    // The simulator acks delivered, then read.
    await eventually(async () => {
      const acks = await t.gw.store.events.listSince({ since: 0, limit: 500, types: ['message.ack'] });
      return acks.some((e) => e.data.status === 'read');
    });
    // The connection drops and comes back (instance.status with a reason).
    const drop = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/simulate/drop`,
      headers: acme,
      payload: {},
    });
    expect(drop.statusCode, drop.body).toBe(200);
    // Dead letter and a disabled endpoint.
    await eventually(async () => {
      const types = new Set(
        (await t.gw.store.events.listSince({ since: 0, limit: 1000 })).map((e) => e.type),
      );
      return types.has('webhook.exhausted') && types.has('webhook.disabled');
    });
    const rotate = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/keys/rotate`,
      headers: acme,
    });
    expect(rotate.statusCode, rotate.body).toBe(200);
    // The phone removes the device (logout, remote), a second instance is logged out through the API, then deleted.
    const remote = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/simulate/logout`,
      headers: acme,
      payload: {},
    });
    expect(remote.statusCode, remote.body).toBe(200);
    const second = await createConnectedInstance(t, acme, 'acme', '15550005678');
    const logout = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${second.id}/logout`,
      headers: acme,
    });
    expect(logout.statusCode, logout.body).toBe(200);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/instances/${second.id}`,
      headers: acme,
    });
    expect(del.statusCode, del.body).toBe(200);

    const log: GatewayEvent[] = await eventually(async () => {
      const all = await t.gw.store.events.listSince({ since: 0, limit: 1000 });
      return all.filter((e) => e.type === 'logout').length >= 2 ? all : null;
    });
    const seen = new Set(log.map((e) => e.type));
    // The flows above really produced these types (the `qr` of a scanned instance is kept until the next one).
    for (const type of [
      'instance.created',
      'instance.status',
      'connected',
      'message',
      'message.ack',
      'logout',
      'key.revoked',
      'instance.deleted',
      'webhook.exhausted',
      'webhook.disabled',
    ]) {
      expect(seen, type).toContain(type);
    }
    expect(
      log.filter((e) => e.type === 'message').map((e) => (e.data.message as { body: string }).body),
    ).toEqual(expect.arrayContaining(['hello', 'hi back']));
    expect(log.flatMap(problems)).toEqual([]);

    // Webhook bodies are the log's events: the same schemas hold for what receivers get.
    const bodies = rx.requests.map((r) => JSON.parse(r.body) as { type: string; data: unknown });
    expect(bodies.length).toBeGreaterThan(5);
    expect(bodies.flatMap(problems)).toEqual([]);
  });
});

describe('the warm pool, company sessions and a failed send also emit what the schemas say', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({
      env: {
        POOL_ENABLED: 'on',
        POOL_PROVIDER: 'simulator',
        POOL_SIZE: '1',
        POOL_MIN_FREE: '0',
        POOL_REFILL: '1',
        SESSION_PROVIDER: 'simulator',
      },
    });
    await t.gw.pool.fill();
    await eventually(async () => (await t.gw.pool.stats()).ready === 1, 20_000);
  }, 60_000);
  afterAll(() => t?.close());

  it('through a pooled connect and disconnect, a company session and a send the messenger refuses', async () => {
    const a = await createCompany(t, 'tenant-a');
    const connect = await t.app.inject({ method: 'POST', url: '/api/whatsapp/connect', headers: a });
    expect(connect.statusCode, connect.body).toBe(200);
    const off = await t.app.inject({ method: 'POST', url: '/api/whatsapp/disconnect', headers: a });
    expect(off.statusCode, off.body).toBe(200);
    const b = await createCompany(t, 'tenant-b');
    const init = await t.app.inject({
      method: 'POST',
      url: '/api/whatsapp/sessions/tenant-b/initialize',
      headers: b,
    });
    expect(init.statusCode, init.body).toBe(200);
    const inst = await createConnectedInstance(t, b, 'tenant-b', '15550009999');
    t.network.knobs.failureRate = 1;
    const sent = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/messages`,
      headers: b,
      payload: { to: '14155552671', text: 'refused' },
    });
    t.network.knobs.failureRate = 0;
    expect(sent.statusCode, sent.body).toBeGreaterThanOrEqual(400);

    const log = await t.gw.store.events.listSince({ since: 0, limit: 1000 });
    const seen = new Set(log.map((e) => e.type));
    for (const type of ['pool.assigned', 'pool.released', 'instance.created', 'error'])
      expect(seen, type).toContain(type);
    expect(log.some((e) => e.type === 'instance.created' && e.data.pooled === true)).toBe(true);
    expect(log.some((e) => e.type === 'instance.created' && e.data.company_session === true)).toBe(true);
    expect(log.some((e) => e.type === 'error' && e.data.code === 'send_failed')).toBe(true);
    expect(log.flatMap(problems)).toEqual([]);
  });
});
