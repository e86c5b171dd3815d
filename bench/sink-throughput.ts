// Benchmark: outbox deliveries/s to RabbitMQ, NATS JetStream and MQTT sinks beside a webhook, and direct publishes.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import amqp from 'amqplib';
import mqtt, { type IPublishPacket } from 'mqtt';
import { commitWithEvents } from '../src/core/commit.js';
import type { NewEvent } from '../src/domain/model.js';
import { rawSql } from '../src/storage/sql-store.js';
import { machine, main, openBenchDb, progress, QUICK, report, round, startBenchGateway } from './support.js';

const CHATS = 200;
const WRITERS = 4;
const CONCURRENCY = 64;
const GOAL_DPS = 500;
/** The local brokers (never anything outside 127.0.0.1). */
const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const MQTT_URL = process.env.BENCH_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

main(async () => {
  const events = QUICK ? 1000 : 5000;
  const tag = `bench${Date.now().toString(36)}`;
  const exchange = `${tag}-x`;
  const queue = `${tag}-q`;
  const stream = `${tag.toUpperCase()}`;
  const db = await openBenchDb({ poolSize: 10 });
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  // The consumer side exists before anything is published: a queue bound to the exchange, the stream.
  const amqpConn = await amqp.connect(AMQP_URL);
  const amqpCh = await amqpConn.createConfirmChannel();
  await amqpCh.assertExchange(exchange, 'topic', { durable: true, autoDelete: false });
  await amqpCh.assertQueue(queue, { durable: false, autoDelete: false });
  await amqpCh.bindQueue(queue, exchange, '#');
  const nc = await natsConnect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${tag}.>`] });
  // MQTT keeps nothing for absent subscribers: a QoS 1 subscriber counts the distinct event ids it receives.
  const mq = await mqtt.connectAsync(MQTT_URL, {
    protocolVersion: 5,
    clientId: `${tag}-sub`,
    reconnectPeriod: 0,
  });
  const mqttSeen = new Set<string>();
  mq.on('message', (_topic: string, _payload: Buffer, packet: IPublishPacket) => {
    const id = packet.properties?.userProperties?.['message-id'];
    if (id !== undefined) mqttSeen.add(String(id));
  });
  await mq.subscribeAsync(`${tag}/#`, { qos: 1 });

  const t = await startBenchGateway(db, {
    env: { OUTBOUND_ALLOW_PRIVATE: 'on', WEBHOOK_WORKER_INTERVAL_MS: '50' },
  });
  try {
    await t.gw.store.companies.ensure('bench');
    const add = async (url: string, payload: Record<string, unknown>) => {
      const res = await t.app.inject({ method: 'POST', url, headers: t.admin, payload });
      if (res.statusCode !== 201) throw new Error(`registration failed: ${res.body}`);
      const body = res.json();
      return (body.sink ?? body.webhook).id as string;
    };
    const targets = {
      webhook: await add('/api/v1/companies/bench/webhooks', { url: hookUrl, events: ['bench.message'] }),
      rabbitmq: await add('/api/v1/sinks', {
        kind: 'rabbitmq',
        company_id: 'bench',
        url: AMQP_URL,
        exchange,
        routing_key: `${tag}.{company_id}.{type}`,
        events: ['bench.message'],
      }),
      nats: await add('/api/v1/sinks', {
        kind: 'nats',
        company_id: 'bench',
        servers: [NATS_URL],
        stream,
        subject: `${tag}.{company_id}.{type}`,
        events: ['bench.message'],
      }),
      mqtt: await add('/api/v1/sinks', {
        kind: 'mqtt',
        company_id: 'bench',
        url: MQTT_URL,
        topic: `${tag}/{company_id}/{type}`,
        events: ['bench.message'],
      }),
    };
    const repo = t.gw.store.deliveries;
    const only = async (which: keyof typeof targets) => {
      for (const [k, id] of Object.entries(targets)) await repo.updateEndpoint(id, { enabled: k === which });
    };
    const delivered = async (id: string) =>
      Number(
        (
          await rawSql(t.gw.store).sql.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM ${rawSql(t.gw.store).qschema}.webhook_deliveries
             WHERE endpoint_id = $1 AND status = 'delivered'`,
            [id],
          )
        )[0].n,
      );
    const worker = t.gw.delivery?.worker;
    if (!worker) throw new Error('the gateway has no delivery worker');

    /** Fills the outbox for one target with the worker stopped, then drains it: deliveries per second. */
    const phase = async (which: keyof typeof targets): Promise<{ dps: number; delivered: number }> => {
      await only(which);
      await worker.stop();
      progress(`sink-throughput: ${events} events for ${which} (${db.kind})`);
      let next = 0;
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          for (let i = next++; i < events; i = next++) {
            await commitWithEvents(t.gw.store, t.gw.bus, (_tx, emit) =>
              emit({
                type: 'bench.message',
                instance_id: null,
                company_id: 'bench',
                data: { message: { chat_id: `chat-${i % CHATS}`, body: `event ${i}`, is_from_me: false } },
                // A type of its own (outside the event union), so nothing but the bench's endpoints takes it.
              } as unknown as NewEvent),
            );
          }
        }),
      );
      progress(`sink-throughput: committed; draining ${which}`);
      const t0 = performance.now();
      worker.start();
      let n = 0;
      const until = t0 + (QUICK ? 60_000 : 300_000);
      while (n < events && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        n = await delivered(targets[which]);
      }
      const dps = n / ((performance.now() - t0) / 1000);
      const states = await rawSql(t.gw.store).sql.query(
        `SELECT status, attempts, left(last_error, 80) AS error, count(*)::int AS n
         FROM ${rawSql(t.gw.store).qschema}.webhook_deliveries WHERE endpoint_id = $1 GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 5`,
        [targets[which]],
      );
      progress(`sink-throughput: ${which} ${round(dps, 1)}/s; ${JSON.stringify(states)}`);
      return { dps, delivered: n };
    };

    const webhook = await phase('webhook');
    const rabbit = await phase('rabbitmq');
    const nats = await phase('nats');
    const mqttSink = await phase('mqtt');
    const queued = (await amqpCh.checkQueue(queue)).messageCount;
    const stored = (await jsm.streams.info(stream)).state.messages;

    progress(`sink-throughput: baselines (direct publishes with confirms, ${CONCURRENCY} in flight)`);
    const body = Buffer.from(
      JSON.stringify({ id: 1, type: 'bench.message', data: { body: 'x'.repeat(80) } }),
    );
    const direct = async (publish: (i: number) => Promise<unknown>) => {
      let next = 0;
      const b0 = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let i = next++; i < events; i = next++) await publish(i);
        }),
      );
      return events / ((performance.now() - b0) / 1000);
    };
    const amqpDirect = await direct(
      (i) =>
        new Promise<void>((resolve, reject) =>
          amqpCh.publish(exchange, `${tag}.direct`, body, { messageId: `d${i}`, persistent: true }, (err) =>
            err ? reject(err) : resolve(),
          ),
        ),
    );
    const js = jetstream(nc);
    const natsDirect = await direct((i) => js.publish(`${tag}.direct`, body, { msgID: `d${i}` }));
    const mqttReceived = mqttSeen.size;
    const mqttDirect = await direct((i) =>
      mq.publishAsync(`${tag}-direct/x`, body, {
        qos: 1,
        properties: { userProperties: { 'message-id': `d${i}` } },
      }),
    );

    const ratio = Math.min(rabbit.dps / amqpDirect, nats.dps / natsDirect, mqttSink.dps / mqttDirect);
    report({
      name: 'sink-throughput',
      rabbitmq_deliveries_per_s: round(rabbit.dps, 1),
      nats_deliveries_per_s: round(nats.dps, 1),
      mqtt_deliveries_per_s: round(mqttSink.dps, 1),
      webhook_deliveries_per_s: round(webhook.dps, 1),
      events_per_target: events,
      delivered: {
        webhook: webhook.delivered,
        rabbitmq: rabbit.delivered,
        nats: nats.delivered,
        mqtt: mqttSink.delivered,
      },
      in_broker: { rabbitmq_queue: queued, nats_stream: stored, mqtt_subscriber: mqttReceived },
      baseline: {
        what: `direct publishes with publisher confirms / PubAcks / QoS 1 PUBACKs, ${CONCURRENCY} in flight, no outbox`,
        rabbitmq_direct_per_s: round(amqpDirect, 1),
        nats_direct_per_s: round(natsDirect, 1),
        mqtt_direct_per_s: round(mqttDirect, 1),
      },
      ratio: round(ratio, 3),
      goal: `>= ${GOAL_DPS} deliveries/s per sink, every event in the broker`,
      met:
        rabbit.dps >= GOAL_DPS &&
        nats.dps >= GOAL_DPS &&
        rabbit.delivered === events &&
        nats.delivered === events &&
        mqttSink.dps >= GOAL_DPS &&
        mqttSink.delivered === events &&
        queued >= events &&
        stored >= events &&
        mqttReceived >= events,
      machine: machine(db.kind),
    });
  } finally {
    await t.close();
    await amqpCh.deleteQueue(queue);
    await amqpCh.deleteExchange(exchange);
    await amqpConn.close();
    await jsm.streams.delete(stream);
    await nc.close();
    await mq.endAsync();
    await new Promise((r) => receiver.close(r));
    await db.close();
  }
});
