// Outbox worker with a fake clock: retry schedule, dead letter, 410, 429/503 Retry-After, per-chat order, disable.
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, startReceiver } from '../../../test/e2e/webhook-receiver.js';
import { openTestDb, seedInstance, type TestDb } from '../../../test/support/db.js';
import { commitWithEvents } from '../../core/commit.js';
import { MemoryEventBus } from '../../core/event-bus-memory.js';
import type { GatewayEvent, Message } from '../../domain/model.js';
import { type PostFn, postRequest } from './http-post.js';
import { nextDelayMs, retryAfterMs } from './retry.js';
import { generateSecret } from './signer.js';
import { DeliveryWorker, type WebhookSettings } from './worker.js';

let db: TestDb;
let rx: Receiver;
// The fake clock runs ahead of the database clock (new deliveries are due at the database's now()).
let now = 0;
const clock = { now: () => new Date(now) };
const bus = new MemoryEventBus(() => {});
const published: GatewayEvent[] = [];
bus.subscribe((e) => published.push(e));
const silent = { debug() {}, info() {}, warn() {}, error() {} };
let instanceId = '';

beforeAll(async () => {
  db = await openTestDb();
  rx = await startReceiver();
  now = Date.now() + 60_000;
  const inst = await seedInstance(db.store, { company_id: 'co' });
  instanceId = inst.id;
  // Opening and migrating PGlite can take over a minute on a loaded machine.
}, 180_000);

afterAll(async () => {
  await rx?.close();
  await db?.close();
});

afterEach(async () => {
  // Each test's endpoint is retired so its leftovers cannot be claimed by the next test.
  for (const id of made.splice(0)) await db.store.deliveries.disable(id, 'test over');
  rx.respond = () => ({ status: 200 });
});

function worker(settings: Partial<WebhookSettings> = {}, store = db.store) {
  return new DeliveryWorker(workerOptions(settings, store));
}

/** Resolves once `ok()` holds (checked every few milliseconds). */
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
}

function workerOptions(settings: Partial<WebhookSettings> = {}, store = db.store) {
  return {
    store,
    bus,
    logger: silent,
    clock,
    random: () => 0.5,
    settings: {
      allowPrivate: true,
      retryScheduleMs: [0, 5_000, 300_000],
      disableAfterMs: 5 * 86_400_000,
      timeoutMs: 5_000,
      workerIntervalMs: 60_000,
      concurrency: 50,
      endpointConcurrency: 50,
      ...settings,
    },
  };
}

/** Endpoints made by the running test. */
const made: string[] = [];

async function endpoint(path: string) {
  const ep = await db.store.deliveries.insertEndpoint({
    company_id: 'co',
    instance_id: null,
    kind: 'webhook',
    url: `${rx.url}${path}`,
    events: [],
    enabled: true,
    secret: generateSecret(),
  });
  made.push(ep.id);
  return ep;
}

async function emitMessage(chat: string, body: string, instance = instanceId): Promise<GatewayEvent> {
  return commitWithEvents(db.store, bus, (_tx, emit) =>
    emit({
      type: 'message',
      instance_id: instance,
      company_id: 'co',
      data: { message: { chat_id: chat, body, is_from_me: false, is_group: false } as Message },
    }),
  );
}

async function deliveries(endpointId: string) {
  return (await db.store.deliveries.listDeliveries({ endpoint_id: endpointId, limit: 100 })).items;
}

/**
 * The test store with its first `recordDelivered` held until `hold()` resolves, and its claims counted
 * (`nextClaim(n)` resolves once claim number n + 1 has returned).
 */
function gatedStore(hold: () => Promise<void>) {
  const repo = db.store.deliveries;
  let held = false;
  const done: Array<{ n: number; resolve: () => void }> = [];
  const counter = {
    claims: 0,
    nextClaim: (n: number) => new Promise<void>((resolve) => done.push({ n, resolve })),
    store: db.store,
  };
  const gated = new Proxy(repo, {
    get: (t, k) => {
      if (k === 'recordDelivered') {
        return async (...a: Parameters<typeof t.recordDelivered>) => {
          if (!held) {
            held = true;
            await hold();
          }
          return t.recordDelivered(...a);
        };
      }
      if (k === 'claim') {
        return async (...a: Parameters<typeof t.claim>) => {
          const out = await t.claim(...a);
          counter.claims++;
          for (const d of done.splice(0)) {
            if (counter.claims > d.n) d.resolve();
            else done.push(d);
          }
          return out;
        };
      }
      return Reflect.get(t, k);
    },
  });
  counter.store = new Proxy(db.store, { get: (t, k) => (k === 'deliveries' ? gated : Reflect.get(t, k)) });
  return counter;
}

describe('retry policy helpers', () => {
  it('follows the schedule with ±10 % jitter and ends with null', () => {
    const schedule = [0, 5_000, 300_000];
    expect(nextDelayMs(1, schedule, () => 0.5)).toBe(5_000);
    expect(nextDelayMs(1, schedule, () => 0)).toBe(4_500);
    expect(nextDelayMs(2, schedule, () => 0.999999)).toBe(330_000);
    expect(nextDelayMs(3, schedule, () => 0.5)).toBeNull();
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(retryAfterMs('120', at)).toBe(120_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:01:00 GMT', at)).toBe(60_000);
    expect(retryAfterMs('soon', at)).toBeNull();
    expect(retryAfterMs(undefined, at)).toBeNull();
  });
});

describe('delivery worker', () => {
  it('sends the event view byte for byte (keys in this order, data as stored), signed over those bytes', async () => {
    const ep = await endpoint('/bytes');
    const text = 'quote " backslash \\ tab \t é 😀 \u2028 </script>';
    const e = await emitMessage('c-bytes', text);
    expect(await worker().tick()).toBe(1);
    const [r] = rx.requests.filter((x) => x.path === '/bytes');
    // The stored jsonb's key order (shorter keys first), written out by hand: a change of shape or order fails here.
    const data = `{"message":{"body":${JSON.stringify(text)},"chat_id":"c-bytes","is_group":false,"is_from_me":false}}`;
    expect(r.body).toBe(
      `{"id":${e.id},"type":"message","instance_id":"${instanceId}","company_id":"co","created_at":"${e.created_at}","data":${data}}`,
    );
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['user-agent']).toBe('Switchboard-Webhooks/1');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.body)));
    expect(() => new Webhook(ep.secret ?? '').verify(r.body, r.headers)).not.toThrow();
  });

  it('retries on the schedule under a fake clock, then dead-letters with webhook.exhausted', async () => {
    const ep = await endpoint('/retry');
    rx.respond = () => ({ status: 500, body: 'down' });
    const w = worker();
    await emitMessage('c-retry', 'one');
    expect(await w.tick()).toBe(1);
    let [d] = await deliveries(ep.id);
    expect(d).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_status_code: 500,
      response_excerpt: 'down',
    });
    expect(Date.parse(d.next_attempt_at)).toBe(now + 5_000);

    now += 4_999;
    expect(await w.tick()).toBe(0);
    now += 1;
    expect(await w.tick()).toBe(1);
    [d] = await deliveries(ep.id);
    expect(d.attempts).toBe(2);
    expect(Date.parse(d.next_attempt_at)).toBe(now + 300_000);

    now += 299_999;
    expect(await w.tick()).toBe(0);
    now += 1;
    expect(await w.tick()).toBe(1);
    [d] = await deliveries(ep.id);
    expect(d).toMatchObject({ status: 'failed', attempts: 3 });
    const ids = rx.requests.filter((r) => r.path === '/retry').map((r) => r.headers['webhook-id']);
    expect(ids).toEqual([String(d.event_id), String(d.event_id), String(d.event_id)]);
    const exhausted = published.find((e) => e.type === 'webhook.exhausted' && e.data.delivery_id === d.id);
    expect(exhausted?.data).toMatchObject({ endpoint_id: ep.id, attempts: 3, last_status_code: 500 });
    now += 10 * 86_400_000;
    expect(await w.tick()).toBe(0);
  });

  it('disables the endpoint on 410 Gone and stops enqueueing for it', async () => {
    const ep = await endpoint('/gone');
    rx.respond = () => ({ status: 410 });
    const w = worker();
    await emitMessage('c-gone', 'x');
    expect(await w.tick()).toBe(1);
    const row = await db.store.deliveries.getEndpoint(ep.id);
    expect(row?.enabled).toBe(false);
    expect(row?.disabled_reason).toContain('410');
    expect(published.some((e) => e.type === 'webhook.disabled' && e.data.endpoint_id === ep.id)).toBe(true);
    await emitMessage('c-gone', 'y');
    expect(await deliveries(ep.id)).toHaveLength(1);
  });

  it('honours Retry-After on 429 (seconds) and 503 (HTTP date)', async () => {
    const ep = await endpoint('/busy');
    const w = worker();
    rx.respond = () => ({ status: 429, headers: { 'retry-after': '120' } });
    await emitMessage('c-busy', 'x');
    expect(await w.tick()).toBe(1);
    let [d] = await deliveries(ep.id);
    expect(d.last_status_code).toBe(429);
    expect(Date.parse(d.next_attempt_at)).toBe(now + 120_000);

    now += 120_000;
    const date = new Date(Math.floor(now / 1000) * 1000 + 3_600_000);
    rx.respond = () => ({ status: 503, headers: { 'retry-after': date.toUTCString() } });
    expect(await w.tick()).toBe(1);
    [d] = await deliveries(ep.id);
    expect(d.last_status_code).toBe(503);
    expect(Date.parse(d.next_attempt_at)).toBe(date.getTime());

    now = date.getTime();
    rx.respond = () => ({ status: 204 });
    expect(await w.tick()).toBe(1);
    [d] = await deliveries(ep.id);
    expect(d.status).toBe('delivered');
  });

  it('keeps order per chat: a failing event holds back its chat only', async () => {
    const ep = await endpoint('/order');
    const w = worker();
    rx.respond = (r) => (r.body.includes('"A1"') ? { status: 500 } : { status: 200 });
    await emitMessage('chat-a', 'A1');
    await emitMessage('chat-a', 'A2');
    await emitMessage('chat-b', 'B1');
    await emitMessage('chat-b', 'B2');
    await w.tick();
    const bodies = () =>
      rx.requests
        .filter((r) => r.path === '/order')
        .map((r) => JSON.parse(r.body).data.message.body as string);
    expect(bodies()).toContain('B1');
    expect(bodies()).toContain('B2');
    expect(bodies()).not.toContain('A2');
    expect(bodies().indexOf('B1')).toBeLessThan(bodies().indexOf('B2'));

    rx.respond = () => ({ status: 200 });
    now += 5_000;
    await w.tick();
    const seen = bodies();
    expect(seen.lastIndexOf('A1')).toBeLessThan(seen.indexOf('A2'));
    expect((await deliveries(ep.id)).every((d) => d.status === 'delivered')).toBe(true);
  });

  it('keeps order per (instance, chat): the same chat id on another instance is not held back', async () => {
    const ep = await endpoint('/order-instances');
    const other = await seedInstance(db.store, { company_id: 'co' });
    const w = worker();
    // One contact writes to two of the company's numbers: two conversations that share a chat id.
    rx.respond = (r) => (r.body.includes('"X1"') ? { status: 500 } : { status: 200 });
    await emitMessage('same-chat', 'X1');
    await emitMessage('same-chat', 'Y1', other.id);
    await emitMessage('same-chat', 'X2');
    await w.tick();
    const bodies = rx.requests
      .filter((r) => r.path === '/order-instances')
      .map((r) => JSON.parse(r.body).data.message.body as string);
    expect(bodies).toContain('Y1');
    expect(bodies).not.toContain('X2');
    rx.respond = () => ({ status: 200 });
    now += 5_000;
    await w.tick();
    expect((await deliveries(ep.id)).every((d) => d.status === 'delivered')).toBe(true);
  });

  it('disables an endpoint failing continuously for WEBHOOK_DISABLE_AFTER', async () => {
    const ep = await endpoint('/flaky');
    const w = worker({ retryScheduleMs: [0, 3_600_000, 3_600_000, 3_600_000], disableAfterMs: 7_200_000 });
    rx.respond = () => ({ status: 500 });
    await emitMessage('c-flaky', 'x');
    await w.tick();
    const since = now;
    now += 3_600_000;
    await w.tick();
    expect((await db.store.deliveries.getEndpoint(ep.id))?.enabled).toBe(true);
    now += 3_600_000;
    await w.tick();
    const row = await db.store.deliveries.getEndpoint(ep.id);
    expect(row?.enabled).toBe(false);
    expect(Date.parse(row!.failing_since!)).toBe(since);
    const ev = published.find((e) => e.type === 'webhook.disabled' && e.data.endpoint_id === ep.id);
    expect(ev?.data.reason).toBe('failing');
  });

  it('lets two workers share the outbox without double delivery (SKIP LOCKED)', async () => {
    const ep = await endpoint('/shared');
    for (let i = 0; i < 30; i++) await emitMessage(`s-${i % 5}`, `m${i}`);
    const [a, b] = [worker(), worker()];
    await Promise.all([a.tick(), b.tick()]);
    const ds = await deliveries(ep.id);
    expect(ds).toHaveLength(30);
    expect(ds.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
    const ids = rx.requests.filter((r) => r.path === '/shared').map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(30);
    expect(ids).toHaveLength(30);
  });

  it('frees a slot when the receiver answers 2xx, before the success is recorded', async () => {
    const ep = await endpoint('/early-release');
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // The first success record waits until the receiver has seen the other chat's delivery.
    rx.respond = (r) => {
      if (r.path === '/early-release' && r.body.includes('"E2"')) release();
      return { status: 200 };
    };
    const store = gatedStore(() => gate);
    const w = worker({ concurrency: 1, endpointConcurrency: 1 }, store.store);
    await emitMessage('e-1', 'E1');
    await emitMessage('e-2', 'E2');
    await w.tick();
    expect((await deliveries(ep.id)).map((d) => d.status)).toEqual(['delivered', 'delivered']);
  }, 20_000);

  it('starts the next delivery of a chat only after the previous success is recorded', async () => {
    const ep = await endpoint('/early-order');
    const store = gatedStore(async () => {
      // A claim that runs while the success of F1 is not yet recorded must not take F2.
      const claims = store.claims;
      await store.nextClaim(claims);
      const bodies = rx.requests.filter((r) => r.path === '/early-order').map((r) => r.body);
      expect(bodies.some((b) => b.includes('"F2"'))).toBe(false);
    });
    const w = worker({ concurrency: 4, endpointConcurrency: 4 }, store.store);
    await emitMessage('f-1', 'F1');
    await emitMessage('f-1', 'F2');
    w.wake();
    await w.tick();
    const bodies = rx.requests
      .filter((r) => r.path === '/early-order')
      .map((r) => JSON.parse(r.body).data.message.body as string);
    expect(bodies).toEqual(['F1', 'F2']);
    expect((await deliveries(ep.id)).map((d) => d.status)).toEqual(['delivered', 'delivered']);
  }, 20_000);

  it('claims one slot-load ahead: the next delivery starts when a slot frees, without another claim', async () => {
    const ep = await endpoint('/ahead');
    let taking = 0;
    const repo = db.store.deliveries;
    const counted = new Proxy(repo, {
      get: (t, k) =>
        k === 'claim'
          ? async (...a: Parameters<typeof t.claim>) => {
              const got = await t.claim(...a);
              if (got.length) taking++;
              return got;
            }
          : Reflect.get(t, k),
    });
    const w = worker(
      { concurrency: 1, endpointConcurrency: 1 },
      new Proxy(db.store, { get: (t, k) => (k === 'deliveries' ? counted : Reflect.get(t, k)) }),
    );
    await emitMessage('ahead-1', 'H1');
    await emitMessage('ahead-2', 'H2');
    await w.tick();
    expect((await deliveries(ep.id)).map((d) => [d.status, d.attempts])).toEqual([
      ['delivered', 1],
      ['delivered', 1],
    ]);
    // One claim took both (one in flight, one ahead); one slot, so one attempt at a time.
    expect(taking).toBe(1);
    const paths = rx.requests.filter((r) => r.path === '/ahead');
    expect(paths).toHaveLength(2);
  });

  it('runs every sink kind at SINK_CONCURRENCY, an MQTT sink as a RabbitMQ or NATS one', async () => {
    const ep = await db.store.deliveries.insertEndpoint({
      company_id: 'co',
      instance_id: null,
      kind: 'mqtt',
      url: 'mqtt://127.0.0.1:1',
      events: [],
      enabled: true,
      secret: generateSecret(),
    });
    made.push(ep.id);
    let inFlight = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const sinks = async () => {
      inFlight++;
      await gate;
      inFlight--;
      return { ok: true, code: null, error: null, excerpt: 'puback' };
    };
    const w = new DeliveryWorker({
      ...workerOptions({ concurrency: 50, endpointConcurrency: 1, sinkConcurrency: 3 }),
      sinks,
    });
    for (let i = 0; i < 6; i++) await emitMessage(`sink-${i}`, `S${i}`);
    const done = w.tick();
    await until(() => inFlight > 0);
    // The sink's own limit, not the webhook endpoints' one.
    expect(inFlight).toBe(3);
    open();
    await done;
    await w.stop();
    expect((await deliveries(ep.id)).filter((d) => d.status === 'delivered')).toHaveLength(6);
  });

  it('gives back a delivery claimed ahead when it stops, or when its lease would end before its attempt', async () => {
    const ep = await endpoint('/give-back');
    const held: Array<() => void> = [];
    const post: PostFn = async (url, body, headers, opts) => {
      if (body.includes('"G1"')) await new Promise<void>((r) => held.push(r));
      return postRequest(url, body, headers, opts);
    };
    const settings = { concurrency: 1, endpointConcurrency: 1, timeoutMs: 5_000 };
    const released: number[] = [];
    const repo = db.store.deliveries;
    const watched = new Proxy(repo, {
      get: (t, k) =>
        k === 'release'
          ? (...a: Parameters<typeof t.release>) => {
              released.push(...a[0]);
              return t.release(...a);
            }
          : Reflect.get(t, k),
    });
    const store = new Proxy(db.store, { get: (t, k) => (k === 'deliveries' ? watched : Reflect.get(t, k)) });
    const w = new DeliveryWorker({ ...workerOptions(settings, store), post });
    await emitMessage('give-1', 'G1');
    await emitMessage('give-2', 'G2');
    const first = w.tick();
    await until(() => held.length === 1);
    // G2 waits in this process; the attempt of G1 hangs past G2's lease margin, so G2 is given back, not sent.
    now += 5_000;
    held[0]();
    await first;
    let ds = await deliveries(ep.id);
    expect(ds.map((d) => [d.status, d.attempts])).toEqual([
      ['delivered', 1],
      ['delivered', 1],
    ]);
    expect(rx.requests.filter((r) => r.path === '/give-back')).toHaveLength(2);
    // Newest first: G2 was the one given back.
    const g2 = ds[0].id;
    expect(released).toEqual([g2]);

    // Stopping gives back what waits: due again, the attempt not counted.
    await emitMessage('give-1', 'G1');
    await emitMessage('give-2', 'G3');
    void w.tick();
    await until(() => held.length === 2);
    await w.stop(0);
    ds = await deliveries(ep.id);
    const g3 = ds.find((d) => d.id === Math.max(...ds.map((x) => x.id)));
    expect(g3).toMatchObject({ status: 'pending', attempts: 0 });
    expect(released).toEqual([g2, g3!.id]);
    expect(Date.parse(g3!.next_attempt_at)).toBeLessThanOrEqual(now);
    held[1]();
  });

  it('gives back what a claim running at stop() brings back', async () => {
    const ep = await endpoint('/stop-claim');
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let claiming = false;
    const repo = db.store.deliveries;
    const slow = new Proxy(repo, {
      get: (t, k) =>
        k === 'claim'
          ? async (...a: Parameters<typeof t.claim>) => {
              claiming = true;
              const got = await t.claim(...a);
              await gate;
              return got;
            }
          : Reflect.get(t, k),
    });
    const w = worker(
      {},
      new Proxy(db.store, { get: (t, k) => (k === 'deliveries' ? slow : Reflect.get(t, k)) }),
    );
    await emitMessage('stop-1', 'S1');
    w.wake();
    await until(() => claiming);
    const stopped = w.stop(5_000);
    open();
    await stopped;
    expect((await deliveries(ep.id)).map((d) => [d.status, d.attempts])).toEqual([['pending', 0]]);
    expect(rx.requests.filter((r) => r.path === '/stop-claim')).toHaveLength(0);
  });

  it('claims at once only after a commit of this process that queued deliveries', async () => {
    let claims = 0;
    const deliveriesRepo = db.store.deliveries;
    const counted = new Proxy(deliveriesRepo, {
      get: (t, k) =>
        k === 'claim'
          ? (...a: Parameters<typeof t.claim>) => {
              claims++;
              return t.claim(...a);
            }
          : Reflect.get(t, k),
    });
    const store = new Proxy(db.store, {
      get: (t, k) => (k === 'deliveries' ? counted : Reflect.get(t, k)),
    });
    const w = worker({ concurrency: 8, endpointConcurrency: 8 }, store);
    const turn = () => new Promise<void>((r) => setImmediate(r));
    w.start();
    // The claim start() kicks off runs first.
    await turn();
    await w.tick();
    const before = claims;
    // No endpoint takes it: nothing queued, no claim.
    await emitMessage('k-none', 'nobody listens');
    await turn();
    await turn();
    expect(claims).toBe(before);
    const ep = await endpoint('/kick');
    await emitMessage('k-1', 'queued');
    await turn();
    await turn();
    expect(claims).toBe(before + 1);
    await w.tick();
    for (let i = 0; i < 3; i++) {
      await emitMessage('k-1', `again ${i}`);
      await w.tick();
    }
    expect((await deliveries(ep.id)).map((d) => d.status)).toEqual(Array(4).fill('delivered'));
    await w.stop();
  });
});
