// MQTT sink end to end on a private mosquitto: signed QoS 1 publishes, broker down and up, guarded addresses, validation.
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MosquittoBroker, startMosquitto } from '../../../test/support/brokers.js';
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
import { SinkService } from './service.js';

let t: TestGateway;
let mb: MosquittoBroker;
let acme: Record<string, string>;
let inst: { id: string; apiKey: string };
const logs: string[] = [];

const mosquitto = await requireService('mosquitto');

beforeAll(async () => {
  [t, mb] = await Promise.all([
    startTestGateway({
      env: sinkGatewayEnv('0,100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s', 1500),
      logs: { write: (line: string) => void logs.push(line) },
    }),
    startMosquitto(mosquitto.target),
  ]);
  acme = await createCompany(t, 'acme');
  inst = await createConnectedInstance(t, acme, 'acme', '15550003333');
});

afterAll(async () => {
  await t?.close();
  await mb?.dispose();
});

const inbound = (from: string, text: string) => simulateInbound(t, acme, inst.id, { from, text });
const brokerUrl = () => `mqtt://${mb.user}:${mb.pass}@127.0.0.1:${mb.port}`;

const createSink = (body: Record<string, unknown>) =>
  postSink<{ mqtt: { url: string; topic: string } }>(t, acme, body);

const deliveries = (id: string) => sinkDeliveries(t, acme, id);

interface Received {
  topic: string;
  body: string;
  props: Record<string, string>;
  contentType?: string;
}

/** A QoS 1 subscriber; `persistent` keeps its session (and the messages for it) across a broker restart. */
async function subscribe(
  filter: string,
  persistent = false,
): Promise<{ got: Received[]; client: MqttClient }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mb.port}`, {
    username: mb.user,
    password: mb.pass,
    protocolVersion: 5,
    clientId: `sb-test-sub-${Math.random().toString(16).slice(2, 10)}`,
    clean: !persistent,
    reconnectPeriod: 100,
    properties: persistent ? { sessionExpiryInterval: 600 } : undefined,
  });
  const got: Received[] = [];
  client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => {
    const props: Record<string, string> = {};
    for (const [k, v] of Object.entries(packet.properties?.userProperties ?? {})) {
      props[k] = Array.isArray(v) ? v.join(',') : String(v);
    }
    got.push({ topic, body: payload.toString(), props, contentType: packet.properties?.contentType });
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { got, client };
}

describe.skipIf(!mosquitto.available)('MQTT sink', () => {
  it('publishes a committed event with QoS 1 to its topic; headers as user properties, signature valid, credentials write-only', async () => {
    const sub = await subscribe('basic/#');
    const { sink, secret } = await createSink({
      kind: 'mqtt',
      instance_id: inst.id,
      url: brokerUrl(),
      topic: 'basic/{company_id}/{instance_id}/{type}',
      events: ['message'],
    });
    expect(sink.mqtt.url).toBe(`mqtt://${mb.user}:***@127.0.0.1:${mb.port}`);
    const listed = await t.app.inject({ method: 'GET', url: '/api/v1/sinks', headers: acme });
    expect(listed.body).not.toContain(mb.pass);
    expect(listed.json().sinks.map((s: { id: string }) => s.id)).toContain(sink.id);

    expect((await inbound('14155550500', 'hello mqtt')).statusCode).toBe(200);
    await eventually(() => sub.got.length >= 1, 15_000);
    const [msg] = sub.got;
    expect(msg.topic).toBe(`basic/acme/${inst.id}/message`);
    expect(msg.contentType).toBe('application/json');
    const event = new Webhook(secret).verify(msg.body, msg.props) as { id: number; type: string; data: any };
    expect(event.type).toBe('message');
    expect(event.data.message.body).toBe('hello mqtt');
    expect(msg.props['webhook-id']).toBe(String(event.id));
    expect(msg.props['message-id']).toBe(String(event.id));
    const [d] = await eventually(async () => {
      const list = await deliveries(sink.id);
      return list[0]?.status === 'delivered' ? list : null;
    });
    expect(d.response_excerpt).toBe(`puback for basic/acme/${inst.id}/message`);
    await sub.client.endAsync();

    // One connection per sink, reused; deleting the sink closes it.
    const dispatcher = t.gw.delivery!.sinkDispatcher;
    const before = dispatcher.connections;
    expect(before).toBeGreaterThanOrEqual(1);
    const gone = await t.app.inject({ method: 'DELETE', url: `/api/v1/sinks/${sink.id}`, headers: acme });
    expect(gone.statusCode).toBe(200);
    expect(dispatcher.connections).toBe(before - 1);
    expect(logs.join('')).not.toContain(mb.pass);
  });

  it('retries while the broker is down and delivers everything, in chat order, once it is back', async () => {
    // A subscriber with a persistent session: the broker keeps what is published for it while it reconnects.
    const sub = await subscribe('chaos/#', true);
    const { sink } = await createSink({
      kind: 'mqtt',
      instance_id: inst.id,
      url: `mqtt://127.0.0.1:${mb.port}`,
      user: mb.user,
      pass: mb.pass,
      topic: 'chaos/{instance_id}/{type}',
      events: ['message'],
    });
    const chats = ['14155550601', '14155550602'];
    let n = 0;
    const send = async () => {
      const from = chats[n % chats.length];
      n++;
      expect((await inbound(from, `m${n}`)).statusCode).toBe(200);
    };
    for (let i = 0; i < 4; i++) await send();
    await eventually(
      async () => (await deliveries(sink.id)).filter((d) => d.status === 'delivered').length === 4,
    );
    await mb.stop();
    for (let i = 0; i < 4; i++) await send();
    // Attempts fail (connection refused) and are retried on the schedule, not dropped.
    const failing = await eventually(async () => {
      const d = await deliveries(sink.id);
      const waiting = d.filter((x) => x.status === 'pending' && x.attempts >= 2 && x.last_error);
      return waiting.length ? waiting : null;
    }, 15_000);
    expect(failing[0].last_error).not.toContain(mb.pass);
    await mb.start();
    for (let i = 0; i < 2; i++) await send();
    const total = n;
    const all = await eventually(async () => {
      const d = await deliveries(sink.id);
      return d.length === total && d.every((x) => x.status === 'delivered') ? d : null;
    }, 25_000);
    await eventually(() => new Set(sub.got.map((m) => m.props['message-id'])).size >= total, 15_000);
    await sub.client.endAsync();
    const ids = new Set(all.map((d) => String(d.event_id)));
    const byChat = new Map<string, number[]>();
    for (const m of sub.got) {
      const event = JSON.parse(m.body);
      expect(m.props['message-id']).toBe(String(event.id));
      expect(ids.has(m.props['message-id'])).toBe(true);
      const chat = event.data.message.chat_id as string;
      byChat.set(chat, [...(byChat.get(chat) ?? []), event.id]);
    }
    for (const seq of byChat.values()) {
      const collapsed = seq.filter((id, i) => i === 0 || id !== seq[i - 1]);
      expect(collapsed).toEqual([...collapsed].sort((a, b) => a - b));
    }
    const text = logs.join('');
    expect(text).toContain('sink MQTT connection closed');
    expect(text).not.toContain(mb.pass);
  });

  it('refuses a private broker without the allow setting, at registration and at connect time', async () => {
    // The resolver is injected: no DNS query leaves the machine; the name resolves to loopback.
    const strict = new SinkService(t.gw.store, {
      guard: { allowPrivate: false, resolve: async () => [{ address: '127.0.0.1', family: 4 }] },
    });
    const admin = { kind: 'admin', keyId: null } as const;
    for (const url of [brokerUrl(), 'mqtts://broker.internal.test:8883', 'mqtt://[::1]:1883']) {
      await expect(
        strict.create(admin, { kind: 'mqtt', company_id: 'acme', url }),
        url,
      ).rejects.toMatchObject({
        code: 'SB_ERR_VALIDATION',
      });
    }
    const seen: string[] = [];
    const dispatcher = loopbackResolvingDispatcher(seen);
    const now = new Date().toISOString();
    const endpoint = {
      id: '00000000-0000-4000-8000-000000000002',
      company_id: 'acme',
      instance_id: null,
      kind: 'mqtt' as const,
      url: `mqtt://broker.sink.test:${mb.port}`,
      events: [],
      inbound_only: false,
      include_groups: true,
      enabled: true,
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      previous_secret: null,
      previous_expires_at: null,
      options: { topic: 'never/{type}' },
      credentials: JSON.stringify({ username: mb.user, password: mb.pass }),
      disabled_reason: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
    };
    const event = { id: 1, type: 'x', instance_id: null, company_id: 'acme', created_at: now, data: {} };
    const sub = await subscribe('never/#');
    const byName = await dispatcher.dispatch({ delivery: {} as never, endpoint, event });
    // An IP literal never reaches a resolver: refused before the dial.
    const byIp = await dispatcher.dispatch({
      delivery: {} as never,
      endpoint: {
        ...endpoint,
        id: '00000000-0000-4000-8000-000000000003',
        url: `mqtt://127.0.0.1:${mb.port}`,
      },
      event,
    });
    await dispatcher.close();
    expect(byName.ok).toBe(false);
    expect(byIp.ok).toBe(false);
    expect(seen).toEqual(['broker.sink.test']);
    expect(`${byName.error} ${byIp.error}`).not.toContain(mb.pass);
    await sub.client.endAsync();
    expect(sub.got).toEqual([]);
  });

  it('answers 400 to a bad URL, a wildcard or reserved topic and fields of another kind', async () => {
    const post = (payload: Record<string, unknown>) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/sinks',
        headers: acme,
        payload: { kind: 'mqtt', ...payload },
      });
    for (const bad of [
      { url: 'http://127.0.0.1:1883' },
      { url: 'amqp://127.0.0.1:5672' },
      { url: 'mqtt://127.0.0.1:1883/some/path' },
      { url: 'not a url' },
      { url: brokerUrl(), topic: 'sb/+/x' },
      { url: brokerUrl(), topic: 'sb/#' },
      { url: brokerUrl(), topic: '$SYS/x' },
      { url: brokerUrl(), topic: 'sb//x' },
      { url: brokerUrl(), topic: '{company_id}/x' },
      { url: brokerUrl(), exchange: 'x' },
    ]) {
      const res = await post(bad);
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      expect(res.json().error.code).toBe('SB_ERR_VALIDATION');
    }
    const { sink } = await createSink({ kind: 'mqtt', url: brokerUrl(), events: ['none.such'] });
    expect(sink.mqtt.topic).toBe('switchboard/{company_id}/{instance_id}/{type}');
    const patch = (payload: Record<string, unknown>) =>
      t.app.inject({ method: 'PATCH', url: `/api/v1/sinks/${sink.id}`, headers: acme, payload });
    const creds = async () => JSON.parse((await t.gw.store.deliveries.getEndpoint(sink.id))!.credentials!);
    for (const wrong of [{ exchange: 'x' }, { servers: ['nats://127.0.0.1:4222'] }, { topic: 'a/#' }]) {
      const res = await patch(wrong);
      expect(res.statusCode, JSON.stringify(wrong)).toBe(400);
    }
    expect((await patch({ url: 'amqp://127.0.0.1:5672/' })).statusCode).toBe(400);
    const topic = await patch({ topic: 'patched/{type}' });
    expect(topic.statusCode, topic.body).toBe(200);
    expect(topic.json().sink.mqtt.topic).toBe('patched/{type}');
    expect(await creds()).toEqual({ username: mb.user, password: mb.pass });
    expect((await patch({ pass: 'n3w-pass' })).statusCode).toBe(200);
    expect(await creds()).toEqual({ username: mb.user, password: 'n3w-pass' });
    const moved = await patch({ url: `mqtts://other:s3cond@127.0.0.1:${mb.port}` });
    expect(moved.json().sink.mqtt.url).toBe(`mqtts://other:***@127.0.0.1:${mb.port}`);
    expect(moved.body).not.toContain('s3cond');
    expect(await creds()).toEqual({ username: 'other', password: 's3cond' });
  });
});
