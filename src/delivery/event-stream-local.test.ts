// A stream gets this replica's committed events at once (not after the log tail's next read), each exactly once.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openTestDb, seedInstance, type TestDb, testBackends } from '../../test/support/db.js';
import { commitWithEvents } from '../core/commit.js';
import { MemoryEventBus } from '../core/event-bus-memory.js';
import type { GatewayEvent, Message } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { EventRepo, Store } from '../ports/store.js';
import { LogTailEventBus } from '../runtime/log-tail-event-bus.js';
import { openEventStream } from './event-stream.js';

const message = (instanceId: string, body: string) => ({
  type: 'message' as const,
  instance_id: instanceId,
  company_id: 'co',
  data: { message: { chat_id: 'c1', body, is_from_me: false, is_group: false } as Message },
});
const body = (e: GatewayEvent) => (e.data.message as { body: string }).body;

for (const kind of testBackends()) {
  describe(`event stream, this replica's events, on ${kind}`, () => {
    let db: TestDb;
    let inst = '';
    const emit = (bus: EventBus, text: string) =>
      commitWithEvents(db.store, bus, (_tx, e) => e(message(inst, text)));

    beforeAll(async () => {
      db = await openTestDb(kind);
      inst = (await seedInstance(db.store, { company_id: 'co' })).id;
    }, 180_000);
    afterAll(async () => {
      await db?.close();
    });

    it('on the log-tail bus, delivers a committed event before the tail reads it, and once after', async () => {
      // The tail's reads of the log wait for the gate: only this replica's own publication can reach the stream.
      let open!: () => void;
      const gate = new Promise<void>((r) => {
        open = r;
      });
      const events: EventRepo = Object.assign(Object.create(db.store.events) as EventRepo, {
        listSince: async (f: Parameters<EventRepo['listSince']>[0]) => {
          await gate;
          return db.store.events.listSince(f);
        },
      });
      const tailStore = Object.assign(Object.create(db.store) as Store, { events });
      const bus = new LogTailEventBus(tailStore, { pollMs: 600_000, gapWaitMs: 5_000 }, (err) => {
        throw err;
      });
      await bus.start();
      const tailed: number[] = [];
      bus.subscribe((e) => tailed.push(e.id));
      const got: GatewayEvent[] = [];
      const stop = await openEventStream({ store: db.store, bus }, { company_id: 'co' }, undefined, (e) => {
        got.push(e);
        return true;
      });

      const first = await emit(bus, 'first');
      expect(got.map(body)).toEqual(['first']);
      open();
      await vi.waitFor(() => expect(tailed).toContain(first.id));
      const second = await emit(bus, 'second');
      await vi.waitFor(() => expect(tailed).toContain(second.id));
      expect(got.map(body)).toEqual(['first', 'second']);
      stop();
      await bus.stop();
    });

    it('on a bus whose streams get local events twice (Redis: both lists), delivers each once', async () => {
      const memory = new MemoryEventBus();
      const bus: EventBus = {
        publish: (es) => memory.publish(es),
        subscribe: (l) => memory.subscribe(l),
        subscribeLocal: (l) => memory.subscribe(l),
      };
      const old = await emit(bus, 'committed before the stream opened');
      const got: GatewayEvent[] = [];
      const stop = await openEventStream({ store: db.store, bus }, { company_id: 'co' }, undefined, (e) => {
        got.push(e);
        return true;
      });
      // An id at or below the stream's start that is published after it opened (it committed late): once.
      bus.publish([old]);
      await emit(bus, 'new');
      expect(got.map(body)).toEqual(['committed before the stream opened', 'new']);
      stop();
    });
  });
}
