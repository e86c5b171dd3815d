// The group-committed inbound writer on a real database: batches across sessions, events after commit, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertOutbound, openTestDb, seedInstance, type TestDb } from '../../test/support/db.js';
import type { GatewayEvent } from '../domain/model.js';
import type { ProviderMessage } from '../ports/provider.js';
import type { Store } from '../ports/store.js';
import { MemoryEventBus } from './event-bus-memory.js';
import { chatPreview, createInboundWriter, type InboundFact } from './inbound-writer.js';

const pm = (id: string, over: Partial<ProviderMessage> = {}): ProviderMessage => ({
  message_id: id,
  chat_id: '4915100000001@s.whatsapp.net',
  from: '4915100000001@s.whatsapp.net',
  to: '4915100000000@s.whatsapp.net',
  body: `body ${id}`,
  type: 'text',
  is_from_me: false,
  is_group: false,
  contact_name: 'Ann',
  timestamp: '2026-03-01T10:00:00.000Z',
  ...over,
});

const message = (instance_id: string, m: ProviderMessage): InboundFact => ({
  kind: 'message',
  rec: { instance_id, company_id: 'stale', message: m, spooled_at: new Date(0).toISOString() },
});

describe('inbound writer (group commit)', () => {
  let db: TestDb;
  let store: Store;
  const ids: string[] = [];
  const bus = new MemoryEventBus();
  const published: GatewayEvent[][] = [];
  /** What a reader on another connection saw at the moment each batch was published. */
  const visibleAtPublish: Array<Promise<number[]>> = [];

  beforeAll(async () => {
    db = await openTestDb();
    store = db.store;
    for (let i = 0; i < 3; i++) {
      const inst = await seedInstance(store, { company_id: 'w1' });
      ids.push(inst.id);
    }
    const publish = bus.publish.bind(bus);
    bus.publish = (events) => {
      published.push([...events]);
      const first = events[0]!.id;
      visibleAtPublish.push(
        store.events.listSince({ since: first - 1, limit: 100 }).then((l) => l.map((e) => e.id)),
      );
      publish(events);
    };
  });
  afterAll(async () => db?.close());

  it('writes facts of several sessions in one transaction and publishes their events after it, in order', async () => {
    const w = createInboundWriter({ store, bus });
    const [a, b, c] = ids as [string, string, string];
    // Each "session" awaits its own fact, as the supervisor does; they arrive together.
    await w.submit(message(a, pm('first')));
    published.length = 0;
    const results = await Promise.all([
      w.submit(message(a, pm('a1', { chat_id: 'chat-x', contact_name: 'X' }))),
      w.submit(message(b, pm('b1', { chat_id: 'chat-x' }))),
      w.submit(message(c, pm('c1', { is_from_me: true, from: null }))),
      w.submit(message(a, pm('first'))), // a re-delivery: nothing written, nothing published
      w.submit(
        message(
          a,
          pm('a2', {
            chat_id: 'chat-x',
            body: 'newest',
            contact_name: null,
            timestamp: '2026-03-01T11:00:00.000Z',
          }),
        ),
      ),
    ]);
    expect(results).toHaveLength(5);
    expect(w.stats.flushes).toBe(2);
    expect(published).toHaveLength(1);
    const events = published[0]!;
    expect(events.map((e) => (e.data.message as { message_id: string }).message_id)).toEqual([
      'a1',
      'b1',
      'c1',
      'a2',
    ]);
    expect(events.map((e) => e.id)).toEqual([...events.map((e) => e.id)].sort((x, y) => x - y));
    // Published after commit: a read started at the moment of publishing already sees every event.
    const seen = await visibleAtPublish[visibleAtPublish.length - 1]!;
    for (const e of events) expect(seen).toContain(e.id);
    expect(events.every((e) => e.company_id === 'w1')).toBe(true);
    // Chats aggregated per chat: two messages of chat-x on instance a, the newest one's preview.
    expect(await store.chats.get(a, 'chat-x')).toMatchObject({
      name: 'X',
      unread_count: 2,
      last_message_preview: 'newest',
    });
    expect(await store.chats.get(c, '4915100000001@s.whatsapp.net')).toMatchObject({ unread_count: 0 });
    expect((await store.instances.get(b))?.last_activity_at).not.toBeNull();
    const contacts = await store.contacts.list({ instance_id: a, limit: 10 });
    expect(contacts.items.map((k) => k.phone)).toEqual(['+4915100000001']);
  });

  it('fails only the fact the database refuses; the others of its batch are stored', async () => {
    const w = createInboundWriter({ store, bus });
    const [a, b] = ids as [string, string];
    await w.submit(message(a, pm('warm-up')));
    const results = await Promise.allSettled([
      w.submit(message(a, pm('ok-1'))),
      w.submit(message(b, pm('broken', { timestamp: 'not a time' }))),
      w.submit(message(b, pm('ok-2'))),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.messages.getByMessageId(a, 'ok-1')).not.toBeNull();
    expect(await store.messages.getByMessageId(b, 'ok-2')).not.toBeNull();
    expect(await store.messages.getByMessageId(b, 'broken')).toBeNull();
  });

  it('stores a body whose 120th character is outside the BMP, alone and beside an ack, preview cut whole', async () => {
    const w = createInboundWriter({ store, bus });
    const [a, b] = ids as [string, string];
    const body = `${'y'.repeat(119)}\u{1F600}\u{1F600}`;
    const cut = `${'y'.repeat(119)}\u{1F600}`;
    // Alone (messages only: one statement) and beside an ack (a transaction of separate statements).
    const alone = await Promise.allSettled([
      w.submit(message(a, pm('emoji-1', { chat_id: 'emoji-alone', body }))),
    ]);
    const beside = await Promise.allSettled([
      w.submit(message(b, pm('emoji-2', { chat_id: 'emoji-beside', body }))),
      w.submit({ kind: 'ack', instance_id: b, message_id: 'emoji-2', status: 'read' }),
    ]);
    expect([...alone, ...beside].map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(await store.chats.get(a, 'emoji-alone')).toMatchObject({ last_message_preview: cut });
    expect(await store.chats.get(b, 'emoji-beside')).toMatchObject({ last_message_preview: cut });
    expect(chatPreview(body, 'text')).toBe(cut);
    expect(chatPreview('', 'image')).toBe('[image]');
  });

  it('applies acks with other facts, stashes an early one and publishes message.ack only on progress', async () => {
    const w = createInboundWriter({ store, bus });
    const [a, b] = ids as [string, string];
    await w.submit(message(a, pm('mine', { is_from_me: true })));
    published.length = 0;
    await Promise.all([
      w.submit({ kind: 'ack', instance_id: a, message_id: 'mine', status: 'read' }),
      w.submit({ kind: 'ack', instance_id: b, message_id: 'not-yet', status: 'delivered' }),
      w.submit(message(b, pm('b-in'))),
    ]);
    const events = published.flat();
    expect(events.map((e) => e.type)).toEqual(['message.ack', 'message']);
    expect(events[0]?.data).toMatchObject({ message_id: 'mine', status: 'read' });
    expect((await store.messages.getByMessageId(a, 'mine'))?.status).toBe('read');
    expect(await store.messages.takeAck(b, 'not-yet')).toBe('delivered');
    published.length = 0;
    await w.submit({ kind: 'ack', instance_id: a, message_id: 'mine', status: 'delivered' });
    expect(published.flat()).toEqual([]);
  });

  it('finalises sends in the batch: the row, its chat, its event, and an ack that overtook it', async () => {
    const w = createInboundWriter({ store, bus });
    const [, , c] = ids as [string, string, string];
    const pending = await Promise.all(
      ['s1', 's2'].map(
        async (body) =>
          (
            await insertOutbound(store, {
              ...{ instance_id: c, company_id: 'w1', message_id: null, chat_id: 'sent-chat', from: null },
              ...{ to: 'sent-chat', body, type: 'text', is_from_me: true, is_group: false, group_id: null },
              ...{ contact_name: null, reply_to: null, media: null, status: 'pending' },
              timestamp: new Date().toISOString(),
            })
          ).message,
      ),
    );
    // The provider acked s2 before its send was recorded: the ack is stashed.
    await w.submit({ kind: 'ack', instance_id: c, message_id: 'PROV-2', status: 'delivered' });
    published.length = 0;
    const at = '2026-03-02T09:00:00.000Z';
    const [r1, r2] = await Promise.all(
      pending.map((p, i) =>
        w.submit({
          kind: 'sent',
          sent: { id: p.id, instance_id: c, message_id: `PROV-${i + 1}`, timestamp: at },
        }),
      ),
    );
    expect(r1).toMatchObject({ id: pending[0]!.id, message_id: 'PROV-1', status: 'sent', timestamp: at });
    expect(r2).toMatchObject({ message_id: 'PROV-2', status: 'delivered' });
    const events = published.flat();
    expect(
      events.map((e) => [e.type, (e.data.message as { status?: string })?.status ?? e.data.status]),
    ).toEqual([
      ['message', 'sent'],
      ['message', 'sent'],
      ['message.ack', 'delivered'],
    ]);
    expect(await store.chats.get(c, 'sent-chat')).toMatchObject({ unread_count: 0, last_message_at: at });
    const gone = await w.submit({
      kind: 'sent',
      sent: {
        id: '00000000-0000-0000-0000-000000000000',
        instance_id: c,
        message_id: 'PROV-X',
        timestamp: at,
      },
    });
    expect(gone).toBeNull();
  });

  it('keeps an ack that arrived just before its send in the same batch behind the send’s own event', async () => {
    const w = createInboundWriter({ store, bus });
    const [, , c] = ids as [string, string, string];
    const { message: p } = await insertOutbound(store, {
      ...{
        instance_id: c,
        company_id: 'w1',
        message_id: null,
        chat_id: 'race-chat',
        from: null,
        to: 'race-chat',
      },
      ...{
        body: 'race',
        type: 'text',
        is_from_me: true,
        is_group: false,
        group_id: null,
        contact_name: null,
      },
      ...{ reply_to: null, media: null, status: 'pending', timestamp: new Date().toISOString() },
    });
    published.length = 0;
    const flushesBefore = w.stats.flushes;
    const [, sent] = await Promise.all([
      w.submit({ kind: 'ack', instance_id: c, message_id: 'PROV-RACE', status: 'read' }),
      w.submit({
        kind: 'sent',
        sent: { id: p.id, instance_id: c, message_id: 'PROV-RACE', timestamp: new Date().toISOString() },
      }),
    ]);
    expect(w.stats.flushes - flushesBefore).toBe(1);
    expect(sent).toMatchObject({ id: p.id, status: 'read' });
    const events = published.flat();
    expect(
      events.map((e) => [e.type, (e.data.message as { status?: string })?.status ?? e.data.status]),
    ).toEqual([
      ['message', 'sent'],
      ['message.ack', 'read'],
    ]);
    expect((await store.messages.get(c, p.id))?.status).toBe('read');
  });
  it('finalises a batch of pre-assigned sends alone in one statement, with the transaction’s results and events', async () => {
    const run = async (forceTransaction: boolean) => {
      const inst = (await seedInstance(store, { company_id: 'w1' })).id;
      let txs = 0;
      const counted: Store = {
        ...store,
        tx: (fn) => {
          txs++;
          return store.tx(fn);
        },
      };
      const w = createInboundWriter({ store: counted, bus });
      await w.submit(message(inst, pm('in-1')));
      const outbound = async (id: string, over: { chat_id?: string; body?: string | null; type?: string }) =>
        (
          await insertOutbound(store, {
            ...{ instance_id: inst, company_id: 'w1', message_id: id, chat_id: 'pa-chat', from: null },
            ...{ to: 'pa-chat', body: id, type: 'text', is_from_me: true, is_group: false, group_id: null },
            ...{ contact_name: null, reply_to: null, media: null, status: 'pending' },
            timestamp: new Date().toISOString(),
            ...over,
          })
        ).message;
      const rows = [
        await outbound('PA-1', {}),
        await outbound('PA-2', { chat_id: 'emoji-chat', body: '\u{1F600}'.repeat(70) }),
        await outbound('PA-3', {}),
        await outbound('PA-4', { chat_id: 'other-chat', body: null, type: 'image' }),
      ];
      // PA-3's ack overtook its send: kept on its row.
      await w.submit({
        kind: 'ack',
        instance_id: inst,
        message_id: 'PA-3',
        status: 'read',
        preassigned: true,
      });
      published.length = 0;
      txs = 0;
      const at = (i: number) => `2026-03-03T0${i}:00:00.000Z`;
      const facts: InboundFact[] = rows.map((r, i) => ({
        kind: 'sent',
        sent: { id: r.id, instance_id: inst, message_id: r.message_id!, timestamp: at(i), preassigned: true },
      }));
      // A re-delivered message writes nothing and publishes nothing, but takes the batch through the transaction.
      if (forceTransaction) facts.push(message(inst, pm('in-1')));
      const flushes = w.stats.flushes;
      const results = await Promise.all(facts.map((f) => w.submit(f)));
      expect(w.stats.flushes - flushes).toBe(1);
      const names = new Map<string, string>([[inst, 'INST']]);
      for (const [k, r] of rows.entries()) names.set(r.id, `ROW-${k}`);
      const plain = (v: unknown) =>
        JSON.parse(
          JSON.stringify(v, (k, x) =>
            k === 'created_at' || (k === 'id' && typeof x === 'number') ? undefined : x,
          ),
          (_, x) => (typeof x === 'string' ? (names.get(x) ?? x) : x),
        );
      const chats = await Promise.all(
        ['pa-chat', 'emoji-chat', 'other-chat'].map((c) => store.chats.get(inst, c)),
      );
      return {
        txs,
        results: plain(results.slice(0, 4)),
        events: plain(published.flat()),
        chats: plain(chats),
      };
    };
    const fast = await run(false);
    const slow = await run(true);
    expect([fast.txs, slow.txs]).toEqual([0, 1]);
    expect(fast.results.map((m: { status: string }) => m.status)).toEqual(['sent', 'sent', 'read', 'sent']);
    expect(fast.events.map((e: GatewayEvent) => e.type)).toEqual([
      'message',
      'message',
      'message',
      'message.ack',
      'message',
    ]);
    expect(fast.results).toEqual(slow.results);
    expect(fast.events).toEqual(slow.events);
    expect(fast.chats).toEqual(slow.chats);
  });
  it('finalises a send whose 120th code point is a character outside the BMP, kept whole through either path', async () => {
    const [, , c] = ids as [string, string, string];
    const w = createInboundWriter({ store, bus });
    const body = `${'x'.repeat(119)}\u{1F600} and more`;
    const row = async (chat_id: string, message_id: string | null) =>
      (
        await insertOutbound(store, {
          ...{ instance_id: c, company_id: 'w1', message_id, chat_id, from: null },
          ...{ to: chat_id, body, type: 'text', is_from_me: true, is_group: false, group_id: null },
          ...{ contact_name: null, reply_to: null, media: null, status: 'pending' },
          timestamp: new Date().toISOString(),
        })
      ).message;
    const server = await row('cut-server', null);
    const pre = await row('cut-pre', 'CUT-PRE');
    const at = new Date().toISOString();
    const [a, b] = await Promise.all([
      w.submit({
        kind: 'sent',
        sent: { id: server.id, instance_id: c, message_id: 'CUT-SRV', timestamp: at },
      }),
      w.submit({
        kind: 'sent',
        sent: { id: pre.id, instance_id: c, message_id: 'CUT-PRE', timestamp: at, preassigned: true },
      }),
    ]);
    expect([a?.status, b?.status]).toEqual(['sent', 'sent']);
    for (const chat of ['cut-server', 'cut-pre']) {
      expect((await store.chats.get(c, chat))?.last_message_preview).toBe(`${'x'.repeat(119)}\u{1F600}`);
    }
  });
});
