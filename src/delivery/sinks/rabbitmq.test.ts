// RabbitMQ sink end to end on the real broker: consumed by amqplib, signed, dead letter + replay, link killed mid-stream.
import amqp from 'amqplib';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RabbitScope, rabbitScope } from '../../../test/support/brokers.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  simulateInbound,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { requireService } from '../../../test/support/services.js';
import {
  loopbackResolvingDispatcher,
  postSink,
  sinkDeliveries,
  sinkGatewayEnv,
} from '../../../test/support/sinks.js';
import { rawSql } from '../../storage/sql-store.js';
import { SinkService } from './service.js';

let t: TestGateway;
let rb: RabbitScope;
let acme: Record<string, string>;
let beta: Record<string, string>;
let inst: { id: string; apiKey: string };
const logs: string[] = [];
const EXCHANGE = 'sb-events';

const rabbit = await requireService('rabbitmq');

beforeAll(async () => {
  [t, rb] = await Promise.all([
    startTestGateway({
      env: sinkGatewayEnv('0,100ms,200ms,400ms,800ms', 3000),
      logs: { write: (line: string) => void logs.push(line) },
    }),
    rabbitScope(),
  ]);
  acme = await createCompany(t, 'acme');
  beta = await createCompany(t, 'beta');
  inst = await createConnectedInstance(t, acme, 'acme', '15550001111');
});

afterAll(async () => {
  await t?.close();
  await rb?.dispose();
});

/** A consumer's queue bound to the exchange (declared here as the gateway declares it: durable topic). */
async function bindQueue(queue: string, pattern: string): Promise<void> {
  const conn = await amqp.connect(rb.url);
  const ch = await conn.createChannel();
  await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
  await ch.assertQueue(queue, { durable: true });
  await ch.bindQueue(queue, EXCHANGE, pattern);
  await conn.close();
}

/** Consumes (and acks) what a queue holds until `done` says enough; returns the messages in arrival order. */
async function consume(
  queue: string,
  done: (got: amqp.ConsumeMessage[]) => boolean,
): Promise<amqp.ConsumeMessage[]> {
  const conn = await amqp.connect(rb.url);
  const ch = await conn.createChannel();
  const got: amqp.ConsumeMessage[] = [];
  await ch.consume(queue, (m) => {
    if (!m) return;
    got.push(m);
    ch.ack(m);
  });
  try {
    await eventually(() => done(got), 20_000);
  } finally {
    await conn.close();
  }
  return got;
}

const inbound = (from: string, text: string) => simulateInbound(t, acme, inst.id, { from, text });

const createSink = (body: Record<string, unknown>, headers = acme) =>
  postSink<{ rabbitmq: { url: string } }>(t, headers, body);

const deliveries = (id: string, status?: string) => sinkDeliveries(t, acme, id, status);

describe.skipIf(!rabbit.available)('RabbitMQ sink', () => {
  it('publishes signed events that a real consumer receives; credentials are write-only', async () => {
    await bindQueue('q-basic', `switchboard.acme.${inst.id}.message`);
    const { sink, secret } = await createSink({
      kind: 'rabbitmq',
      instance_id: inst.id,
      url: rb.url,
      exchange: EXCHANGE,
      events: ['message'],
    });
    expect(secret).toMatch(/^whsec_/);
    expect(sink.rabbitmq.url).toBe(`amqp://${rb.user}:***@127.0.0.1:5672/${rb.vhost}`);
    const listed = await t.app.inject({ method: 'GET', url: '/api/v1/sinks', headers: acme });
    expect(listed.body).not.toContain(rb.pass);
    expect(listed.body).not.toContain(secret);
    expect(listed.json().sinks.map((s: { id: string }) => s.id)).toContain(sink.id);

    expect((await inbound('14155550100', 'hello broker')).statusCode).toBe(200);
    const [msg] = await consume('q-basic', (got) => got.length >= 1);
    const body = msg.content.toString();
    const headers = Object.fromEntries(
      Object.entries(msg.properties.headers ?? {}).map(([k, v]) => [k, String(v)]),
    );
    const event = new Webhook(secret).verify(body, headers) as { id: number; type: string; data: any };
    expect(event.type).toBe('message');
    expect(event.data.message.body).toBe('hello broker');
    expect(msg.properties.messageId).toBe(String(event.id));
    expect(headers['webhook-id']).toBe(String(event.id));
    expect(msg.properties.contentType).toBe('application/json');
    expect(msg.fields.routingKey).toBe(`switchboard.acme.${inst.id}.message`);
    const log = await eventually(async () => {
      const d = await deliveries(sink.id, 'delivered');
      return d.length ? d : null;
    });
    expect(log[0].response_excerpt).toBe(`confirmed by ${EXCHANGE}`);
    // Sinks have their own API: the webhook routes do not show them.
    const asWebhook = await t.app.inject({
      method: 'GET',
      url: `/api/v1/webhooks/${sink.id}`,
      headers: acme,
    });
    expect(asWebhook.statusCode).toBe(404);
  });

  it('keeps tenants apart and refuses private brokers unless allowed', async () => {
    const { sink } = await createSink({
      kind: 'rabbitmq',
      url: rb.url,
      exchange: 'sb-tenant',
      events: ['none.such'],
    });
    for (const [method, url] of [
      ['GET', `/api/v1/sinks/${sink.id}`],
      ['DELETE', `/api/v1/sinks/${sink.id}`],
      ['GET', `/api/v1/sinks/${sink.id}/deliveries`],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: beta });
      expect(res.statusCode).toBe(404);
      expect(res.json().error.code).toBe('SB_ERR_SINK_NOT_FOUND');
    }
    const foreign = await t.app.inject({
      method: 'POST',
      url: '/api/v1/sinks',
      headers: beta,
      payload: { kind: 'rabbitmq', instance_id: inst.id, url: rb.url, exchange: 'x' },
    });
    expect(foreign.statusCode).toBe(404);
    // An instance key manages its own instance's sinks, never company-wide ones.
    const instKey = { authorization: `Bearer ${inst.apiKey}` };
    const companyWide = await t.app.inject({
      method: 'POST',
      url: '/api/v1/sinks',
      headers: instKey,
      payload: { kind: 'rabbitmq', url: rb.url, exchange: 'x' },
    });
    expect(companyWide.statusCode).toBe(403);
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/sinks/${sink.id}`, headers: instKey })).statusCode,
    ).toBe(404);
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/v1/sinks',
      headers: acme,
      payload: { kind: 'rabbitmq', url: 'http://127.0.0.1/', exchange: 'x', routing_key: '{type}.x' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('SB_ERR_VALIDATION');

    // The resolver is injected: no DNS query leaves the machine; the name resolves to loopback.
    const strict = new SinkService(t.gw.store, {
      guard: { allowPrivate: false, resolve: async () => [{ address: '127.0.0.1', family: 4 }] },
    });
    const principal = { kind: 'admin', keyId: null } as const;
    await expect(
      strict.create(principal, { kind: 'rabbitmq', company_id: 'acme', url: rb.url, exchange: 'x' }),
    ).rejects.toMatchObject({ code: 'SB_ERR_VALIDATION' });
    const before = (await t.app.inject({ method: 'GET', url: '/api/v1/sinks', headers: acme })).json().sinks
      .length;
    await expect(
      strict.create(principal, {
        kind: 'nats',
        company_id: 'acme',
        servers: ['nats://broker.internal.test:4222'],
      }),
    ).rejects.toMatchObject({ code: 'SB_ERR_VALIDATION' });
    const after = (await t.app.inject({ method: 'GET', url: '/api/v1/sinks', headers: acme })).json().sinks
      .length;
    expect(after).toBe(before);

    // At connect time too: a stored sink whose host now resolves to loopback is never dialled.
    const seen: string[] = [];
    const dispatcher = loopbackResolvingDispatcher(seen);
    const stored = (await t.gw.store.deliveries.getEndpoint(sink.id))!;
    const out = await dispatcher.dispatch({
      delivery: {} as never,
      endpoint: { ...stored, url: `amqp://rabbit.sink.test:5672/${rb.vhost}` },
      event: {
        id: 1,
        type: 'x',
        instance_id: null,
        company_id: 'acme',
        created_at: stored.created_at,
        data: {},
      },
    });
    await dispatcher.close();
    expect(out.ok).toBe(false);
    expect(seen).toEqual(['rabbit.sink.test']);
    expect(out.error).not.toContain(rb.pass);
  });

  it('changes a sink: fields of the other kind are refused, credentials kept unless a new URL brings others', async () => {
    const { sink } = await createSink({
      kind: 'rabbitmq',
      url: rb.url,
      exchange: 'sb-patch',
      events: ['none.such'],
    });
    const patch = (payload: Record<string, unknown>) =>
      t.app.inject({ method: 'PATCH', url: `/api/v1/sinks/${sink.id}`, headers: acme, payload });
    const creds = async () => (await t.gw.store.deliveries.getEndpoint(sink.id))!.credentials!;
    const before = await creds();
    const wrong = await patch({ servers: ['nats://127.0.0.1:4222'] });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.code).toBe('SB_ERR_VALIDATION');
    const events = await patch({ events: ['message'], routing_key: 'patched.{type}' });
    expect(events.statusCode, events.body).toBe(200);
    expect(events.json().sink.rabbitmq.routing_key).toBe('patched.{type}');
    expect(await creds()).toBe(before);
    const moved = await patch({ url: 'amqp://other:n3w-pass@127.0.0.1:5672/elsewhere' });
    expect(moved.json().sink.rabbitmq.url).toBe('amqp://other:***@127.0.0.1:5672/elsewhere');
    expect(moved.body).not.toContain('n3w-pass');
    expect(JSON.parse(await creds())).toEqual({ username: 'other', password: 'n3w-pass' });
    const gone = await t.app.inject({ method: 'DELETE', url: `/api/v1/sinks/${sink.id}`, headers: acme });
    expect(gone.statusCode).toBe(200);
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/sinks/${sink.id}`, headers: acme })).statusCode,
    ).toBe(404);
  });

  it('dead-letters an unroutable event after its retries and publishes it again on replay', async () => {
    const { sink } = await createSink({
      kind: 'rabbitmq',
      instance_id: inst.id,
      url: rb.url,
      exchange: EXCHANGE,
      routing_key: 'unbound.{company_id}.{type}',
      events: ['message'],
    });
    expect((await inbound('14155550101', 'nobody listens')).statusCode).toBe(200);
    const [failed] = await eventually(async () => {
      const d = await deliveries(sink.id, 'failed');
      return d.length ? d : null;
    }, 15_000);
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/sinks/${sink.id}/deliveries`,
      headers: acme,
    });
    expect(res.json().deliveries[0].last_error).toBe(
      'no queue is bound for routing key unbound.acme.message',
    );
    await bindQueue('q-replay', 'unbound.#');
    const replay = await t.app.inject({
      method: 'POST',
      url: `/api/v1/sinks/${sink.id}/deliveries/${failed.id}/replay`,
      headers: acme,
    });
    expect(replay.statusCode).toBe(200);
    const [msg] = await consume('q-replay', (got) => got.length >= 1);
    expect(msg.properties.messageId).toBe(String(failed.event_id));
    await eventually(async () => (await deliveries(sink.id, 'delivered')).length === 1);
  });

  it('loses nothing when the broker closes the connection mid-stream; duplicates only with the same id, in chat order', async () => {
    await bindQueue('q-chaos', 'chaos.#');
    const { sink } = await createSink({
      kind: 'rabbitmq',
      instance_id: inst.id,
      url: rb.url,
      exchange: EXCHANGE,
      routing_key: 'chaos.{instance_id}.{type}',
      events: ['message'],
    });
    const chats = ['14155550201', '14155550202', '14155550203'];
    let n = 0;
    const send = async () => {
      const from = chats[n % chats.length];
      n++;
      expect((await inbound(from, `m${n}`)).statusCode).toBe(200);
    };
    for (let i = 0; i < 9; i++) await send();
    // The broker drops the gateway's link while messages keep coming in.
    let killed = false;
    const kill = rb.closeConnections().then(() => {
      killed = true;
    });
    while (!killed) await send();
    await kill;
    for (let i = 0; i < 9; i++) await send();
    const total = n;

    const all = await eventually(async () => {
      const d = await deliveries(sink.id);
      return d.length === total && d.every((x) => x.status === 'delivered') ? d : null;
    }, 20_000);
    const ids = new Set(all.map((d) => String(d.event_id)));
    const got = await consume('q-chaos', (g) => new Set(g.map((m) => m.properties.messageId)).size >= total);
    const byChat = new Map<string, number[]>();
    for (const m of got) {
      const event = JSON.parse(m.content.toString());
      // A duplicate is the same event under the same id, never a different message.
      expect(String(event.id)).toBe(m.properties.messageId);
      expect(ids.has(m.properties.messageId)).toBe(true);
      const chat = event.data.message.chat_id as string;
      byChat.set(chat, [...(byChat.get(chat) ?? []), event.id]);
    }
    expect(new Set(got.map((m) => m.properties.messageId)).size).toBe(total);
    for (const seq of byChat.values()) {
      const collapsed = seq.filter((id, i) => i === 0 || id !== seq[i - 1]);
      expect(collapsed).toEqual([...collapsed].sort((a, b) => a - b));
      expect(new Set(collapsed).size).toBe(collapsed.length);
    }
    // The lost link was noticed and logged, and no log line ever carried a secret.
    const text = logs.join('');
    expect(text).toContain('sink broker connection closed');
    expect(text).not.toContain(rb.pass);
    const secrets = await rawSql(t.gw.store).sql.query<{ secret: string }>(
      `SELECT secret FROM ${rawSql(t.gw.store).qschema}.webhook_endpoints WHERE kind = 'rabbitmq'`,
    );
    for (const s of secrets) expect(text).not.toContain(s.secret);
  });
});
