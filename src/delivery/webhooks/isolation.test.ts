// Chaos: one tenant's hanging webhook receiver beside a healthy one; the healthy one's deliveries and retries go on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Receiver, startReceiver } from '../../../test/e2e/webhook-receiver.js';
import { openTestDb, seedInstance, type TestDb } from '../../../test/support/db.js';
import { commitWithEvents } from '../../core/commit.js';
import { MemoryEventBus } from '../../core/event-bus-memory.js';
import type { Message } from '../../domain/model.js';
import { generateSecret } from './signer.js';
import { DeliveryWorker } from './worker.js';

/** A loopback server that reads every request and never answers it. */
interface Hanging {
  url: string;
  held: ServerResponse[];
  close(): Promise<void>;
}

async function startHanging(): Promise<Hanging> {
  const held: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const ENDPOINT_CAP = 3;

let db: TestDb;
let rx: Receiver;
let hang: Hanging;
const bus = new MemoryEventBus(() => {});

async function tenant(company: string, url: string): Promise<string> {
  const inst = await seedInstance(db.store, { company_id: company });
  await db.store.deliveries.insertEndpoint({
    company_id: company,
    instance_id: null,
    kind: 'webhook',
    url,
    events: [],
    enabled: true,
    secret: generateSecret(),
  });
  return inst.id;
}

function emit(company: string, instanceId: string, chat: string, body: string) {
  return commitWithEvents(db.store, bus, (_tx, e) =>
    e({
      type: 'message',
      instance_id: instanceId,
      company_id: company,
      data: { message: { chat_id: chat, body, is_from_me: false, is_group: false } as Message },
    }),
  );
}

beforeAll(async () => {
  db = await openTestDb();
  rx = await startReceiver();
  hang = await startHanging();
}, 180_000);

afterAll(async () => {
  await hang?.close();
  await rx?.close();
  await db?.close();
});

describe('endpoint isolation', () => {
  it("delivers a healthy tenant's events, retries included, while another tenant's receiver hangs", async ({
    annotate,
  }) => {
    const slow = await tenant('co-slow', `${hang.url}/hook`);
    const fast = await tenant('co-fast', `${rx.url}/hook`);
    const worker = new DeliveryWorker({
      store: db.store,
      bus,
      logger: silent,
      random: () => 0.5,
      settings: {
        allowPrivate: true,
        retryScheduleMs: [0, 200],
        disableAfterMs: 86_400_000,
        // Longer than the test: the hanging receiver's attempts stay in flight throughout.
        timeoutMs: 120_000,
        workerIntervalMs: 50,
        concurrency: 16,
        endpointConcurrency: ENDPOINT_CAP,
      },
    });
    const delivered = () => rx.requests.filter((r) => r.path === '/hook');
    const sentAt = new Map<string, number>();
    const p99 = (from: number) => {
      const lat = delivered()
        .slice(from)
        .map((r) => r.at - (sentAt.get(r.headers['webhook-id']) ?? r.at))
        .sort((a, b) => a - b);
      return `p50 ${lat[Math.floor(lat.length / 2)]} ms, p99 ${lat[Math.min(lat.length - 1, Math.floor(0.99 * lat.length))]} ms`;
    };
    worker.start();
    try {
      // Baseline (for the report only): the healthy endpoint alone, same shape of traffic.
      for (let i = 0; i < 20; i++) {
        const ev = await emit('co-fast', fast, `b-chat-${i % 4}`, `base-${i}`);
        sentAt.set(String(ev.id), Date.parse(ev.created_at));
      }
      await vi.waitFor(() => expect(delivered().length).toBe(20), { timeout: 60_000, interval: 20 });
      await vi.waitFor(async () => expect(await db.store.deliveries.depth()).toBe(0), {
        timeout: 30_000,
      });
      await annotate(`healthy endpoint alone (${db.kind}): ${p99(0)}`);

      // The hanging tenant has a backlog on many chats, so it would take every slot it is given.
      for (let i = 0; i < 10; i++) await emit('co-slow', slow, `s-${i}`, `slow-${i}`);
      await vi.waitFor(() => expect(hang.held.length).toBe(ENDPOINT_CAP), { timeout: 30_000, interval: 20 });

      // The healthy receiver fails the first attempt of fast-0 once: its retry must keep its schedule too.
      let failedOnce = false;
      rx.respond = (r) => {
        if (!failedOnce && r.body.includes('"fast-0"')) {
          failedOnce = true;
          return { status: 500 };
        }
        return { status: 200 };
      };
      for (let i = 0; i < 20; i++) {
        const ev = await emit('co-fast', fast, `f-chat-${i % 4}`, `fast-${i}`);
        sentAt.set(String(ev.id), Date.parse(ev.created_at));
      }
      await vi.waitFor(() => expect(delivered().length).toBe(41), { timeout: 60_000, interval: 20 });

      // Every healthy event arrived, in order within each chat, fast-0 twice (500, then its retry), nothing else twice.
      const bodies = delivered()
        .slice(20)
        .map((r) => JSON.parse(r.body).data.message);
      for (let chat = 0; chat < 4; chat++) {
        const expected = Array.from({ length: 5 }, (_, k) => `fast-${chat + 4 * k}`);
        const seen = bodies.filter((m) => m.chat_id === `f-chat-${chat}`).map((m) => m.body as string);
        expect(seen).toEqual(chat === 0 ? ['fast-0', ...expected] : expected);
      }
      // ... while the hanging receiver still holds exactly its own slots, none answered.
      expect(hang.held.length).toBe(ENDPOINT_CAP);
      expect(hang.held.every((res) => !res.writableEnded)).toBe(true);
      // Once the last success is recorded, only the hanging attempts are in flight and only its 10 are pending.
      await vi.waitFor(
        async () => {
          expect(await db.store.deliveries.depth()).toBe(10);
          expect(worker.active).toBe(ENDPOINT_CAP);
        },
        { timeout: 30_000, interval: 20 },
      );
      expect(hang.held.length).toBe(ENDPOINT_CAP);

      await annotate(`healthy endpoint beside a hanging one (${db.kind}): ${p99(21)}`);
    } finally {
      // Release the hanging attempts (they fail and are rescheduled), then let the worker record them.
      await hang.close();
      await worker.stop(10_000);
    }
  }, 120_000);
});
