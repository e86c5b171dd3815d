// The outbox claim gives an event sink its own in-flight cap (SINK_CONCURRENCY) beside the webhook endpoints' cap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../../test/support/db.js';
import { DeliveryRepo } from '../webhooks/repo.js';

let db: TestDb;

beforeAll(async () => {
  db = await openTestDb();
  await db.store.companies.ensure('co');
}, 180_000);

afterAll(async () => {
  await db?.close();
});

describe('outbox claim caps', () => {
  it('claims up to perSink for a sink and up to perEndpoint for a webhook, one per chat', async () => {
    const repo = new DeliveryRepo(db.store);
    const base = { company_id: 'co', instance_id: null, events: [], enabled: true, secret: 'whsec_x' };
    const hook = await repo.insertEndpoint({ ...base, kind: 'webhook', url: 'http://127.0.0.1:9/hook' });
    const sink = await repo.insertEndpoint({
      ...base,
      kind: 'rabbitmq',
      url: 'amqp://127.0.0.1:5672/',
      options: { exchange: 'x', exchange_type: 'topic', routing_key: 'sb.{type}' },
    });
    // 20 chats with two events each, for both targets.
    await db.store.sql.query(
      `INSERT INTO ${db.store.qschema}.webhook_deliveries (endpoint_id, event_id, company_id, chat_key, next_attempt_at)
       SELECT e.id, g, 'co', 'chat-' || (g % 20), now() - interval '1 minute'
       FROM unnest($1::uuid[]) AS e(id), generate_series(1, 40) AS g`,
      [[hook.id, sink.id]],
    );
    const now = new Date(Date.now() + 1000);
    const claimed = await db.store.tx((tx) =>
      new DeliveryRepo(tx).claim(now, new Date(now.getTime() + 60_000), 100, { perEndpoint: 4, perSink: 16 }),
    );
    const of = (id: string) => claimed.filter((c) => c.endpoint.id === id);
    expect(of(hook.id)).toHaveLength(4);
    expect(of(sink.id)).toHaveLength(16);
    // Never two of one chat at once: the second event of a chat waits for the first.
    const chats = of(sink.id).map((c) => c.delivery.chat_key);
    expect(new Set(chats).size).toBe(chats.length);
    // Four chats are left; with 14 of the sink's 16 slots busy in this process a claim takes only 2 of them.
    const more = await db.store.tx((tx) =>
      new DeliveryRepo(tx).claim(now, new Date(now.getTime() + 60_000), 100, {
        perEndpoint: 4,
        perSink: 16,
        busy: new Map([[sink.id, 14]]),
      }),
    );
    expect(more.filter((c) => c.endpoint.id === sink.id)).toHaveLength(2);
  });
});
