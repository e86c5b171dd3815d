// NATS JetStream sink end to end on a private nats-server: consumed by a JetStream consumer, server stopped mid-stream.
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startNatsServer } from '../../../test/support/brokers.js';
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

let t: TestGateway;
let ns: NatsServer;
let acme: Record<string, string>;
let inst: { id: string };
const logs: string[] = [];

const natsServer = await requireService('nats-server');

beforeAll(async () => {
  [t, ns] = await Promise.all([
    startTestGateway({
      env: sinkGatewayEnv('0,100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s', 1500),
      logs: { write: (line: string) => void logs.push(line) },
    }),
    startNatsServer(natsServer.target),
  ]);
  acme = await createCompany(t, 'acme');
  inst = await createConnectedInstance(t, acme, 'acme', '15550002222');
});

afterAll(async () => {
  await t?.close();
  await ns?.dispose();
});

const inbound = (from: string, text: string) => simulateInbound(t, acme, inst.id, { from, text });

const createSink = (body: Record<string, unknown>) =>
  postSink<{ nats: { auth: string; servers: string[] } }>(t, acme, body);

const deliveries = (id: string) => sinkDeliveries(t, acme, id);

/** Reads a stream from the start with a durable pull consumer until `done`; acks everything it reads. */
async function readStream(
  stream: string,
  done: (got: Array<{ id: string; body: string; headers: Record<string, string> }>) => boolean,
) {
  const nc: NatsConnection = await connect({ servers: ns.url, token: ns.token });
  try {
    const jsm = await jetstreamManager(nc);
    // The gateway creates the stream with its first publish.
    await eventually(() =>
      jsm.consumers.add(stream, { durable_name: 'reader', ack_policy: AckPolicy.Explicit }),
    );
    const consumer = await jetstream(nc).consumers.get(stream, 'reader');
    const got: Array<{ id: string; body: string; headers: Record<string, string> }> = [];
    await eventually(async () => {
      const batch = await consumer.fetch({ max_messages: 100, expires: 1000 });
      for await (const m of batch) {
        const headers: Record<string, string> = {};
        for (const k of m.headers?.keys() ?? []) headers[k.toLowerCase()] = m.headers?.get(k) ?? '';
        got.push({ id: m.headers?.get('Nats-Msg-Id') ?? '', body: m.string(), headers });
        m.ack();
      }
      return done(got);
    }, 20_000);
    return got;
  } finally {
    await nc.close();
  }
}

describe.skipIf(!natsServer.available)('NATS JetStream sink', () => {
  it('publishes signed events with Nats-Msg-Id into the stream (created if missing); the token is write-only', async () => {
    const { sink, secret } = await createSink({
      kind: 'nats',
      instance_id: inst.id,
      servers: [ns.url],
      token: ns.token,
      stream: 'SB_BASIC',
      subject: 'basic.{company_id}.{instance_id}.{type}',
      events: ['message'],
    });
    expect(sink.nats.auth).toBe('token');
    expect(JSON.stringify(sink)).not.toContain(ns.token);
    expect((await inbound('14155550300', 'hello jetstream')).statusCode).toBe(200);
    const [msg] = await readStream('SB_BASIC', (got) => got.length >= 1);
    const event = new Webhook(secret).verify(msg.body, msg.headers) as { id: number; data: any };
    expect(event.data.message.body).toBe('hello jetstream');
    expect(msg.id).toBe(String(event.id));
    const [d] = await eventually(async () => {
      const list = await deliveries(sink.id);
      return list[0]?.status === 'delivered' ? list : null;
    });
    expect(d.response_excerpt).toBe('stream SB_BASIC seq 1');
  });

  it('loses nothing when the server stops and starts mid-stream; duplicates only with the same id, in chat order', async () => {
    const { sink } = await createSink({
      kind: 'nats',
      instance_id: inst.id,
      servers: [`nats://${ns.token}@127.0.0.1:${ns.port}`],
      stream: 'SB_CHAOS',
      subject: 'chaos.{instance_id}.{type}',
      events: ['message'],
    });
    const chats = ['14155550401', '14155550402', '14155550403'];
    let n = 0;
    const send = async () => {
      const from = chats[n % chats.length];
      n++;
      expect((await inbound(from, `m${n}`)).statusCode).toBe(200);
    };
    for (let i = 0; i < 9; i++) await send();
    await ns.stop();
    for (let i = 0; i < 6; i++) await send();
    await ns.start();
    for (let i = 0; i < 9; i++) await send();
    const total = n;
    const all = await eventually(async () => {
      const d = await deliveries(sink.id);
      return d.length === total && d.every((x) => x.status === 'delivered') ? d : null;
    }, 25_000);
    const ids = new Set(all.map((d) => String(d.event_id)));
    const got = await readStream('SB_CHAOS', (g) => new Set(g.map((m) => m.id)).size >= total);
    const byChat = new Map<string, number[]>();
    for (const m of got) {
      const event = JSON.parse(m.body);
      expect(String(event.id)).toBe(m.id);
      expect(ids.has(m.id)).toBe(true);
      const chat = event.data.message.chat_id as string;
      byChat.set(chat, [...(byChat.get(chat) ?? []), event.id]);
    }
    expect(new Set(got.map((m) => m.id)).size).toBe(total);
    for (const seq of byChat.values()) {
      const collapsed = seq.filter((id, i) => i === 0 || id !== seq[i - 1]);
      expect(collapsed).toEqual([...collapsed].sort((a, b) => a - b));
      expect(new Set(collapsed).size).toBe(collapsed.length);
    }
    const text = logs.join('');
    expect(text).toContain('sink NATS connection status');
    expect(text).not.toContain(ns.token);
  });

  it('refuses a loopback broker at connect time when private addresses are not allowed', async () => {
    const seen: string[] = [];
    // The host name resolves (injected resolver, no DNS query) to loopback: the dial is refused before connecting.
    const strict = loopbackResolvingDispatcher(seen);
    const now = new Date().toISOString();
    const ep = {
      id: '00000000-0000-4000-8000-000000000001',
      company_id: 'acme',
      instance_id: null,
      kind: 'nats' as const,
      url: `nats://broker.sink.test:${ns.port}`,
      events: [],
      inbound_only: false,
      include_groups: true,
      enabled: true,
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      previous_secret: null,
      previous_expires_at: null,
      options: {
        servers: [`nats://broker.sink.test:${ns.port}`],
        stream: 'SB_NEVER',
        subject: 'never.{type}',
      },
      credentials: JSON.stringify({ token: ns.token }),
      disabled_reason: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
    };
    const out = await strict.dispatch({
      delivery: {} as never,
      endpoint: ep,
      event: { id: 1, type: 'message', instance_id: null, company_id: 'acme', created_at: now, data: {} },
    });
    await strict.close();
    expect(out.ok).toBe(false);
    expect(seen).toContain('broker.sink.test');
    const nc = await connect({ servers: ns.url, token: ns.token });
    const streams = await (await jetstreamManager(nc)).streams.names().next();
    await nc.close();
    expect(streams).not.toContain('SB_NEVER');
  });
});
