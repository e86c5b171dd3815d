// Webhooks end to end: signed delivery verified by the official package, rotation, replay, tenant isolation.
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, startReceiver } from '../../../test/e2e/webhook-receiver.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { endpointSync, WebhookService } from '../../delivery/webhooks/service.js';

let t: TestGateway;
let rx: Receiver;
let acme: Record<string, string>;
let beta: Record<string, string>;

beforeAll(async () => {
  t = await startTestGateway({
    env: {
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_SCHEDULE: '0,10ms,10ms',
      WEBHOOK_WORKER_INTERVAL_MS: '50',
    },
  });
  rx = await startReceiver();
  acme = await createCompany(t, 'acme');
  beta = await createCompany(t, 'beta');
});

afterAll(async () => {
  await t?.close();
  await rx?.close();
});

const inbound = (id: string, from: string, text: string, headers: Record<string, string>) =>
  t.app.inject({
    method: 'POST',
    url: `/api/v1/instances/${id}/simulate/inbound`,
    headers,
    payload: { from, text },
  });

describe('webhooks API', () => {
  it('delivers signed events that verify with the standardwebhooks package, also across a rotation', async () => {
    const inst = await createConnectedInstance(t, acme, 'acme', '15550001111');
    const put = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/instances/${inst.id}/webhooks`,
      headers: acme,
      payload: { url: `${rx.url}/hook-a`, events: ['message'] },
    });
    expect(put.statusCode).toBe(200);
    const { webhook, secret } = put.json();
    expect(secret).toMatch(/^whsec_/);
    expect(Buffer.from(secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(JSON.stringify(webhook)).not.toContain(secret);
    // A second PUT keeps the endpoint and does not show the secret again.
    const again = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/instances/${inst.id}/webhooks`,
      headers: acme,
      payload: { url: `${rx.url}/hook-a`, events: ['message'] },
    });
    expect(again.json().secret).toBeNull();
    expect(again.json().webhook.id).toBe(webhook.id);

    expect((await inbound(inst.id, '14155552671', 'hello hook', acme)).statusCode).toBe(200);
    const got = await eventually(() => rx.requests.find((r) => r.path === '/hook-a'));
    const payload = new Webhook(secret).verify(got.body, got.headers) as {
      id: number;
      type: string;
      data: any;
    };
    expect(payload.type).toBe('message');
    expect(payload.data.message.body).toBe('hello hook');
    expect(got.headers['webhook-id']).toBe(String(payload.id));
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(got.body, got.headers),
    ).toThrow();

    const rot = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${webhook.id}/rotate-secret`,
      headers: acme,
      payload: { overlap_seconds: 3600 },
    });
    expect(rot.statusCode).toBe(200);
    const newSecret = rot.json().secret as string;
    expect(newSecret).not.toBe(secret);
    expect(rot.json().webhook.previous_secret_expires_at).not.toBeNull();
    const before = rx.requests.length;
    await inbound(inst.id, '14155552671', 'after rotation', acme);
    const second = await eventually(() => rx.requests.slice(before).find((r) => r.path === '/hook-a'));
    expect(second.headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect((new Webhook(newSecret).verify(second.body, second.headers) as any).data.message.body).toBe(
      'after rotation',
    );
    expect(() => new Webhook(secret).verify(second.body, second.headers)).not.toThrow();

    const log = await t.app.inject({ url: `/api/v1/webhooks/${webhook.id}/deliveries`, headers: acme });
    expect(log.statusCode).toBe(200);
    const deliveries = log.json().deliveries;
    expect(deliveries.length).toBeGreaterThanOrEqual(2);
    await eventually(async () => {
      const l = await t.app.inject({ url: `/api/v1/webhooks/${webhook.id}/deliveries`, headers: acme });
      return l.json().deliveries.every((d: any) => d.status === 'delivered' && d.last_status_code === 200);
    });
  });

  it('creates the endpoint from `webhook` at instance creation and dead-letters, then replays', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: acme,
      payload: { company_id: 'acme', provider: 'simulator', webhook: { url: `${rx.url}/hook-b` } },
    });
    expect(res.statusCode).toBe(201);
    const id = res.json().instance.id;
    const list = await t.app.inject({ url: `/api/v1/instances/${id}/webhooks`, headers: acme });
    const [ep] = list.json().webhooks;
    expect(ep.url).toBe(`${rx.url}/hook-b`);
    // instance.created went to the new endpoint in the same transaction.
    await eventually(() =>
      rx.requests.find((r) => r.path === '/hook-b' && r.body.includes('instance.created')),
    );

    let failing = true;
    rx.respond = (r) => (r.path === '/hook-b' && failing ? { status: 500, body: 'boom' } : { status: 200 });
    await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/simulate/scan`,
      headers: acme,
      payload: { phone: '15550002222' },
    });
    const dead = await eventually(async () => {
      const l = await t.app.inject({
        url: `/api/v1/webhooks/${ep.id}/deliveries?status=failed`,
        headers: acme,
      });
      return l.json().deliveries.length > 0 ? l.json().deliveries : null;
    });
    expect(dead[0]).toMatchObject({
      status: 'failed',
      attempts: 3,
      last_status_code: 500,
      response_excerpt: 'boom',
    });
    const events = await t.gw.store.events.listSince({ since: 0, limit: 500, types: ['webhook.exhausted'] });
    expect(events.some((e) => e.data.delivery_id === dead[0].id && e.data.endpoint_id === ep.id)).toBe(true);

    failing = false;
    const replay = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${ep.id}/deliveries/${dead[0].id}/replay`,
      headers: acme,
    });
    expect(replay.statusCode).toBe(200);
    await eventually(async () => {
      const l = await t.app.inject({ url: `/api/v1/webhooks/${ep.id}/deliveries`, headers: acme });
      return l.json().deliveries.find((d: any) => d.id === dead[0].id)?.status === 'delivered';
    });

    // Replay all failed since a time.
    failing = true;
    await inbound(id, '14155552672', 'x', acme);
    await eventually(async () => {
      const l = await t.app.inject({
        url: `/api/v1/webhooks/${ep.id}/deliveries?status=failed`,
        headers: acme,
      });
      return l.json().deliveries.length > 0;
    });
    failing = false;
    const all = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${ep.id}/replay`,
      headers: acme,
      payload: { since: new Date(Date.now() - 3600_000).toISOString() },
    });
    expect(all.json().replayed).toBeGreaterThanOrEqual(1);
    await eventually(async () => {
      const l = await t.app.inject({
        url: `/api/v1/webhooks/${ep.id}/deliveries?status=failed`,
        headers: acme,
      });
      return l.json().deliveries.length === 0;
    });
  });

  it('keeps delivery logs and endpoints tenant-isolated (404 for foreign ids)', async () => {
    const inst = await createConnectedInstance(t, acme, 'acme', '15550003333');
    const put = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/instances/${inst.id}/webhooks`,
      headers: acme,
      payload: { url: `${rx.url}/hook-c` },
    });
    const epId = put.json().webhook.id;
    for (const url of [
      `/api/v1/webhooks/${epId}`,
      `/api/v1/webhooks/${epId}/deliveries`,
      `/api/v1/instances/${inst.id}/webhooks`,
    ]) {
      const res = await t.app.inject({ url, headers: beta });
      expect(res.statusCode, url).toBe(404);
    }
    const foreignReplay = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${epId}/replay`,
      headers: beta,
      payload: { since: new Date().toISOString() },
    });
    expect(foreignReplay.statusCode).toBe(404);
    expect(foreignReplay.json().error.code).toBe('SB_ERR_WEBHOOK_NOT_FOUND');
    const foreignPut = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/instances/${inst.id}/webhooks`,
      headers: beta,
      payload: { url: `${rx.url}/evil` },
    });
    expect(foreignPut.statusCode).toBe(404);
    // Company-wide endpoints of another company are invisible too.
    const cw = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/acme/webhooks',
      headers: acme,
      payload: { url: `${rx.url}/company` },
    });
    expect(cw.statusCode).toBe(201);
    expect(cw.json().secret).toMatch(/^whsec_/);
    expect(
      (await t.app.inject({ url: `/api/v1/webhooks/${cw.json().webhook.id}`, headers: beta })).statusCode,
    ).toBe(404);
    expect((await t.app.inject({ url: '/api/v1/companies/acme/webhooks', headers: beta })).statusCode).toBe(
      404,
    );
    // A company key limited to other instances sees neither this endpoint nor company-wide ones.
    const other = await createConnectedInstance(t, acme, 'acme', '15550006666');
    const limitedKey = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/acme/keys',
      headers: t.admin,
      payload: { instance_ids: [other.id] },
    });
    expect(limitedKey.statusCode).toBe(201);
    const limited = { authorization: `Bearer ${limitedKey.json().key}` };
    expect((await t.app.inject({ url: `/api/v1/webhooks/${epId}`, headers: limited })).statusCode).toBe(404);
    expect(
      (await t.app.inject({ url: `/api/v1/webhooks/${cw.json().webhook.id}`, headers: limited })).statusCode,
    ).toBe(404);
    expect(
      (await t.app.inject({ url: '/api/v1/companies/acme/webhooks', headers: limited })).statusCode,
    ).toBe(403);
    const limitedCreate = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/acme/webhooks',
      headers: limited,
      payload: { url: `${rx.url}/sneaky` },
    });
    expect(limitedCreate.statusCode).toBe(403);
    // The instance's own key sees its endpoint but not the company-wide one.
    const own = { authorization: `Bearer ${inst.apiKey}` };
    expect((await t.app.inject({ url: `/api/v1/webhooks/${epId}`, headers: own })).statusCode).toBe(200);
    expect(
      (await t.app.inject({ url: `/api/v1/webhooks/${cw.json().webhook.id}`, headers: own })).statusCode,
    ).toBe(404);
  });

  it('rejects bad input with SB_ERR_VALIDATION', async () => {
    const inst = await createConnectedInstance(t, acme, 'acme', '15550004444');
    for (const payload of [
      { url: 'ftp://x.example' },
      { url: 'not a url' },
      { url: `${rx.url}/x`, extra: 1 },
      {},
    ]) {
      const res = await t.app.inject({
        method: 'PUT',
        url: `/api/v1/instances/${inst.id}/webhooks`,
        headers: acme,
        payload,
      });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toBe('SB_ERR_VALIDATION');
    }
    const badId = await t.app.inject({ url: '/api/v1/webhooks/nope/deliveries', headers: acme });
    expect(badId.statusCode).toBe(400);
    const badCursor = await t.app.inject({
      url: '/api/v1/webhooks/00000000-0000-4000-8000-000000000000/deliveries?cursor=abc',
      headers: acme,
    });
    expect(badCursor.statusCode).toBe(400);
  });

  it('serves Prometheus metrics to the admin only', async () => {
    const res = await t.app.inject({ url: '/metrics', headers: t.admin });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    for (const name of [
      'switchboard_sessions{',
      'switchboard_messages_total{direction="in"}',
      'switchboard_events_total{type="message"}',
      'switchboard_webhook_deliveries_total{kind="webhook",result="delivered"}',
      'switchboard_webhook_delivery_lag_seconds_bucket',
      'switchboard_outbox_depth',
      'switchboard_instance_last_inbound_timestamp_seconds{instance_id=',
      'switchboard_http_request_duration_seconds_bucket{',
      'route="/api/v1/instances/:id/webhooks"',
    ]) {
      expect(res.body, name).toContain(name);
    }
    expect((await t.app.inject({ url: '/metrics', headers: acme })).statusCode).toBe(403);
    expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(401);
  });
});

describe('SSRF guard at registration', () => {
  it("shows an instance's webhook and agent as its endpoints hold them, whichever API changed them", async () => {
    const inst = await createConnectedInstance(t, acme, 'acme', '15550006666');
    const call = (method: 'GET' | 'PATCH' | 'PUT', url: string, payload?: object) =>
      t.app.inject({ method, url, headers: acme, ...(payload ? { payload } : {}) });
    const put = await call('PUT', `/api/v1/instances/${inst.id}/webhooks`, {
      url: `${rx.url}/model-a`,
      events: ['message'],
    });
    const hookId = put.json().webhook.id;
    const agentSet = await call('PATCH', `/api/v1/instances/${inst.id}`, {
      agent: { url: `${rx.url}/agent`, agent_id: 'support', api_key: 'agno-key-0123456789' },
    });
    expect(agentSet.statusCode, agentSet.body).toBe(200);
    const agentId = (await call('GET', `/api/v1/instances/${inst.id}/webhooks`))
      .json()
      .webhooks.find((w: { kind: string }) => w.kind === 'agent').id;

    // Changed through the webhooks API only.
    expect((await call('PATCH', `/api/v1/webhooks/${hookId}`, { url: `${rx.url}/model-b` })).statusCode).toBe(
      200,
    );
    expect((await call('PATCH', `/api/v1/webhooks/${agentId}`, { enabled: false })).statusCode).toBe(200);

    const shown = (await call('GET', `/api/v1/instances/${inst.id}`)).json().instance;
    expect(shown.api_webhook_schema).toEqual({
      url: `${rx.url}/model-b`,
      events: ['message'],
      enabled: true,
    });
    expect(shown.agent).toEqual({
      url: `${rx.url}/agent`,
      agent_id: 'support',
      enabled: false,
      reply_in_groups: false,
      has_api_key: true,
    });
    // An unrelated instance change shows the same and leaves the endpoints as they are.
    const renamed = (await call('PATCH', `/api/v1/instances/${inst.id}`, { name: 'renamed' })).json()
      .instance;
    expect(renamed.api_webhook_schema).toEqual(shown.api_webhook_schema);
    expect(renamed.agent).toEqual(shown.agent);
    const listed = (await call('GET', `/api/v1/instances?company_id=acme`)).json().instances;
    expect(listed.find((i: { id: string }) => i.id === inst.id).api_webhook_schema.url).toBe(
      `${rx.url}/model-b`,
    );

    // A change through the instance API is what the endpoint holds (same id, secret kept).
    const patched = await call('PATCH', `/api/v1/instances/${inst.id}`, {
      api_webhook_schema: { url: `${rx.url}/model-c` },
    });
    expect(patched.json().instance.api_webhook_schema).toEqual({
      url: `${rx.url}/model-c`,
      events: [],
      enabled: true,
    });
    const hooks = (await call('GET', `/api/v1/instances/${inst.id}/webhooks`)).json().webhooks;
    expect(hooks.find((w: { kind: string }) => w.kind === 'webhook')).toMatchObject({
      id: hookId,
      url: `${rx.url}/model-c`,
    });
  });

  it('refuses loopback, private, link-local, metadata and names resolving to loopback', async () => {
    const inst = await createConnectedInstance(t, acme, 'acme', '15550005555');
    const row = (await t.gw.store.instances.get(inst.id))!;
    const strict = new WebhookService(t.gw.store, { allowPrivate: false });
    const sync = endpointSync({ allowPrivate: false });
    for (const url of [
      'http://127.0.0.1:8080/h',
      'http://10.1.2.3/h',
      'http://192.168.1.10/h',
      'http://172.20.0.1/h',
      'http://169.254.169.254/latest/meta-data',
      'http://[::1]/h',
      'http://[fe80::1]/h',
      'http://[::ffff:127.0.0.1]/h',
      'http://localhost:9999/h',
      'http://224.0.0.1/h',
    ]) {
      await expect(strict.putInstanceWebhook(row, { url }), url).rejects.toMatchObject({
        code: 'SB_ERR_VALIDATION',
        status: 400,
      });
      await expect(
        t.gw.store.tx((tx) => sync(tx, row, { api_webhook_schema: { url } })),
        url,
      ).rejects.toMatchObject({ code: 'SB_ERR_VALIDATION' });
      await expect(
        t.gw.store.tx((tx) => sync(tx, row, { agent: { url, agent_id: 'a1' } })),
        url,
      ).rejects.toMatchObject({ code: 'SB_ERR_VALIDATION' });
    }
    const ok = await strict.putInstanceWebhook(row, { url: 'http://93.184.215.14/hook' });
    expect(ok.endpoint.url).toBe('http://93.184.215.14/hook');
  });
});
