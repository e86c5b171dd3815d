// Storage contract for the batched writes behind group commit: each equals its one-by-one form, on both drivers.
import { beforeAll, expect, it } from 'vitest';
import {
  describeOnBackends,
  insertOutbound,
  insertOutboundIfUnchanged,
  newMessage,
  seedInstance,
  type TestDb,
} from '../../test/support/db.js';
import type { Message } from '../domain/model.js';
import type { ChatTouch, NewMessage, Store } from '../ports/store.js';
import type { Driver } from './sql.js';
import { createSqlStore } from './sql-store.js';

const msg = (instanceId: string, over: Partial<NewMessage> = {}) =>
  newMessage(instanceId, { company_id: 'bc1', ...over });

describeOnBackends('batched storage writes', (db, backend) => {
  let store: Store;
  let a: string;
  let b: string;
  const newInstance = async () => (await seedInstance(store, { company_id: 'bc1' })).id;

  beforeAll(async () => {
    store = db.store;
    a = await newInstance();
    b = await newInstance();
  });

  it('inserts many messages in input order, skipping stored ones, repeats and deleted instances', async () => {
    const stored = await store.messages.upsert(msg(a, { message_id: 'already', company_id: 'bc1' }));
    const gone = await newInstance();
    await store.instances.delete(gone);
    const rows = await store.messages.insertMany([
      msg(a, {
        message_id: 'x1',
        body: 'one',
        company_id: 'stale',
        media: { url: 'http://127.0.0.1/x.png' },
      }),
      msg(b, { message_id: 'x1', body: 'other instance' }),
      msg(a, { message_id: 'already', body: 'again' }),
      msg(a, { message_id: 'x2', body: 'two' }),
      msg(a, { message_id: 'x1', body: 'repeat' }),
      msg(gone, { message_id: 'x3' }),
    ]);
    expect(rows.map((r) => r?.body ?? null)).toEqual(['one', 'other instance', null, 'two', null, null]);
    // The instance's company as stored, never the caller's stale copy.
    expect(rows[0]).toMatchObject({
      company_id: 'bc1',
      instance_id: a,
      message_id: 'x1',
      status: 'received',
    });
    expect(rows[0]?.media).toEqual({ url: 'http://127.0.0.1/x.png' });
    expect((await store.messages.getByMessageId(a, 'already'))?.id).toBe(stored.message.id);
    expect((await store.messages.getByMessageId(a, 'x1'))?.body).toBe('one');
    expect(await store.messages.insertMany([])).toEqual([]);
  });

  it('stores the mentions of a batch row, and none as an empty list', async () => {
    const jids = ['4915100000002@s.whatsapp.net', '123456789012345@lid'];
    const [withMentions, without] = await store.messages.insertMany([
      msg(a, { message_id: 'mn1', mentions: jids }),
      msg(a, { message_id: 'mn2' }),
    ]);
    expect(withMentions?.mentions).toEqual(jids);
    expect(without?.mentions).toEqual([]);
    expect((await store.messages.getByMessageId(a, 'mn1'))?.mentions).toEqual(jids);
    expect((await store.messages.getByMessageId(a, 'mn2'))?.mentions).toEqual([]);
  });

  it('touches chats as one-by-one touches would (aggregated per chat)', async () => {
    const seq = (chat: string): ChatTouch[] => [
      {
        instance_id: a,
        chat_id: chat,
        name: 'Ann',
        is_group: false,
        at: '2026-01-02T00:00:00Z',
        preview: 'p1',
        unread_delta: 1,
      },
      {
        instance_id: a,
        chat_id: chat,
        name: null,
        is_group: false,
        at: '2026-01-01T00:00:00Z',
        preview: 'old',
        unread_delta: 1,
      },
      {
        instance_id: a,
        chat_id: chat,
        name: 'Anna',
        is_group: false,
        at: '2026-01-02T00:00:00Z',
        preview: 'tie',
        unread_delta: 0,
      },
      {
        instance_id: a,
        chat_id: chat,
        name: null,
        is_group: false,
        at: '2026-01-01T12:00:00Z',
        preview: 'mid',
        unread_delta: 2,
      },
    ];
    for (const c of seq('one-by-one')) await store.chats.touch(c);
    // A stored row first, then the batch on top of it (and another chat in the same batch).
    await store.chats.touch(seq('batched')[1]!);
    await store.chats.touchMany([
      ...seq('batched').filter((_, i) => i !== 1),
      {
        instance_id: b,
        chat_id: 'batched',
        name: 'B',
        is_group: true,
        at: '2026-01-03T00:00:00Z',
        preview: 'b',
        unread_delta: 3,
      },
    ]);
    const one = await store.chats.get(a, 'one-by-one');
    const batched = await store.chats.get(a, 'batched');
    expect(batched).toEqual({ ...one, chat_id: 'batched' });
    expect(batched).toMatchObject({ name: 'Anna', last_message_preview: 'tie', unread_count: 4 });
    expect(await store.chats.get(b, 'batched')).toMatchObject({ name: 'B', is_group: true, unread_count: 3 });
  });

  it('upserts contacts as one-by-one upserts would', async () => {
    await store.contacts.upsertMany([
      { instance_id: a, contact_id: 'k1', name: 'K', phone: null },
      { instance_id: a, contact_id: 'k2', name: null, phone: '+2' },
      { instance_id: a, contact_id: 'k1', name: null, phone: '+1' },
      { instance_id: a, contact_id: 'k1', name: 'Kay', phone: null },
    ]);
    await store.contacts.upsertMany([{ instance_id: a, contact_id: 'k2', name: 'Two', phone: null }]);
    const list = (await store.contacts.list({ instance_id: a, limit: 10 })).items;
    expect(list.map((c) => [c.contact_id, c.name, c.phone])).toEqual([
      ['k1', 'Kay', '+1'],
      ['k2', 'Two', '+2'],
    ]);
  });

  it('appends many events in input order with their outbox rows', async () => {
    await db.driver.query(
      `INSERT INTO "${db.schema}".webhook_endpoints (company_id, url, events) VALUES ('bc1', 'http://127.0.0.1:9/h', '{message}')`,
    );
    const chat = { chat_id: 'c@s.whatsapp.net', is_from_me: false, is_group: false };
    const written = await store.events.appendMany([
      { type: 'message', instance_id: a, company_id: 'bc1', data: { message: { ...chat, n: 1 } } },
      { type: 'qr', instance_id: a, company_id: 'bc1', data: { qr: 'x' } },
      { type: 'message', instance_id: b, company_id: 'bc1', data: { message: { ...chat, n: 2 } } },
      { type: 'message', instance_id: null, company_id: 'elsewhere', data: {} },
    ]);
    expect(written.map((e) => e.type)).toEqual(['message', 'qr', 'message', 'message']);
    expect(written.map((e) => e.data.message && (e.data.message as { n: number }).n)).toEqual([
      1,
      undefined,
      2,
      undefined,
    ]);
    const ids = written.map((e) => e.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(new Set(ids).size).toBe(4);
    const outbox = await db.driver.query<{ event_id: number; chat_key: string }>(
      `SELECT event_id, chat_key FROM "${db.schema}".webhook_deliveries ORDER BY id`,
    );
    expect(outbox.map((o) => Number(o.event_id))).toEqual([ids[0], ids[2]]);
    // Ordered per (instance, chat): the key names both.
    expect(outbox[0]?.chat_key).toBe(`${a}:c@s.whatsapp.net`);
    expect(await store.events.appendMany([])).toEqual([]);
  });

  it('ingests inbound messages with their chats, contacts, activity, events and outbox rows in one statement', async () => {
    const c = await newInstance();
    const d = await newInstance();
    const gone = await newInstance();
    await store.instances.delete(gone);
    await store.messages.upsert(msg(c, { message_id: 'in-old' }));
    const [hook] = await db.driver.query<{ id: string }>(
      `INSERT INTO "${db.schema}".webhook_endpoints (company_id, instance_id, url, events)
       VALUES ('bc1', $1, 'http://127.0.0.1:9/h', '{message}') RETURNING id`,
      [c],
    );
    const chat = '4915100000009@s.whatsapp.net';
    const at = (h: number) => `2026-02-01T${10 + h}:00:00.000Z`;
    const long = `${'x'.repeat(119)}\u{1F600} and more`;
    // Counted: statements sent, a transaction as two more (its BEGIN and COMMIT).
    let statements = 0;
    const counting: Driver = {
      kind: db.driver.kind,
      query: (text, params) => {
        statements++;
        return db.driver.query(text, params);
      },
      transaction: (fn) => {
        statements += 2;
        return db.driver.transaction(fn);
      },
      close: async () => {},
    };
    const events = await createSqlStore(counting, db.schema).messages.ingestMany(
      [
        msg(c, {
          message_id: 'in-1',
          chat_id: chat,
          from: chat,
          contact_name: 'Ann',
          body: 'first',
          timestamp: at(0),
          company_id: 'stale',
          media: { url: 'http://127.0.0.1/x.png' },
          mentions: ['4915100000002@s.whatsapp.net'],
        }),
        msg(c, { message_id: 'in-old', chat_id: chat, from: chat, body: 'again' }),
        msg(c, { message_id: 'in-2', chat_id: chat, from: chat, body: long, timestamp: at(1) }),
        msg(c, { message_id: 'in-1', chat_id: chat, from: chat, body: 'repeat', timestamp: at(2) }),
        msg(d, {
          message_id: 'in-1',
          chat_id: 'g@g.us',
          is_group: true,
          from: 'b@s.whatsapp.net',
          contact_name: 'Bob',
          timestamp: at(0),
        }),
        msg(d, {
          message_id: 'in-3',
          chat_id: 'g@g.us',
          is_group: true,
          is_from_me: true,
          from: null,
          body: null,
          type: 'image',
          status: 'sent',
          timestamp: at(0),
        }),
        msg(gone, { message_id: 'in-4' }),
      ].map((m, i) => ({ ...m, contact_phone: i === 0 ? '+4915100000009' : null })),
      [d, gone],
    );
    expect(statements).toBe(1);
    // One event per stored message, in input order, carrying the message exactly as the messages API reads it.
    expect(events.map((e) => [e.instance_id, (e.data.message as Message).message_id])).toEqual([
      [c, 'in-1'],
      [c, 'in-2'],
      [d, 'in-1'],
      [d, 'in-3'],
    ]);
    const ids = events.map((e) => e.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    for (const e of events) {
      const m = e.data.message as Message;
      expect(e).toMatchObject({ type: 'message', company_id: 'bc1' });
      expect(m).toEqual(await store.messages.getByMessageId(e.instance_id!, m.message_id!));
    }
    const logged = await store.events.listSince({ since: ids[0]! - 1, limit: 10 });
    expect(logged.filter((e) => ids.includes(e.id))).toEqual(events);
    // The log tail leaves out the ids it holds already (its own events).
    const others = await store.events.listSince({
      since: ids[0]! - 1,
      limit: 10,
      exclude: [ids[0]!, ids[2]!],
    });
    expect(others.filter((e) => ids.includes(e.id)).map((e) => e.id)).toEqual([ids[1], ...ids.slice(3)]);
    // Chats as touchMany of the stored ones: the later message's preview (whole characters), unread counted.
    expect(await store.chats.get(c, chat)).toMatchObject({
      name: 'Ann',
      unread_count: 2,
      last_message_at: at(1),
      last_message_preview: `${'x'.repeat(119)}\u{1F600}`,
    });
    expect(await store.chats.get(d, 'g@g.us')).toMatchObject({
      name: null,
      is_group: true,
      unread_count: 1,
      last_message_preview: '[image]',
    });
    // Contacts: the senders of messages not from me.
    const contacts = async (id: string) =>
      (await store.contacts.list({ instance_id: id, limit: 10 })).items.map((k) => [
        k.contact_id,
        k.name,
        k.phone,
      ]);
    expect(await contacts(c)).toEqual([[chat, 'Ann', '+4915100000009']]);
    expect(await contacts(d)).toEqual([['b@s.whatsapp.net', 'Bob', null]]);
    // Activity only for the instances said to be due.
    expect((await store.instances.get(c))?.last_activity_at).toBeNull();
    expect((await store.instances.get(d))?.last_activity_at).not.toBeNull();
    // The outbox rows of the endpoint of instance c.
    const outbox = await db.driver.query<{ event_id: number; chat_key: string }>(
      `SELECT event_id, chat_key FROM "${db.schema}".webhook_deliveries WHERE endpoint_id = $1 ORDER BY id`,
      [hook!.id],
    );
    expect(outbox.map((o) => [Number(o.event_id), o.chat_key])).toEqual([
      [ids[0], `${c}:${chat}`],
      [ids[1], `${c}:${chat}`],
    ]);
    expect(await store.messages.ingestMany([], [c])).toEqual([]);
  });

  it('applies acks in order: progress, no step back, several of one message, and stashes unknown ones', async () => {
    const [sent] = await store.messages.insertMany([
      msg(a, { message_id: 'out-1', is_from_me: true, status: 'sent' }),
    ]);
    const outcomes = await store.tx(async (tx) => {
      const acks = [
        { instance_id: a, message_id: 'out-1', status: 'delivered' as const },
        { instance_id: a, message_id: 'later', status: 'delivered' as const },
        { instance_id: a, message_id: 'out-1', status: 'sent' as const },
        { instance_id: a, message_id: 'out-1', status: 'read' as const },
        { instance_id: a, message_id: 'later', status: 'read' as const },
        { instance_id: a, message_id: 'out-1', status: 'read' as const },
      ];
      await tx.messages.lockMessageIds(acks);
      return tx.messages.applyAcks(acks);
    });
    expect(outcomes.map((o) => o.kind)).toEqual([
      'progressed',
      'stashed',
      'unchanged',
      'progressed',
      'stashed',
      'unchanged',
    ]);
    expect(outcomes[0]).toEqual({
      kind: 'progressed',
      company_id: 'bc1',
      message: { id: sent!.id, message_id: 'out-1', chat_id: sent!.chat_id, status: 'delivered' },
    });
    expect(outcomes[3]).toMatchObject({ message: { status: 'read' } });
    expect((await store.messages.getByMessageId(a, 'out-1'))?.status).toBe('read');
    // The most advanced stashed status is kept for the send that records the id later.
    expect(await store.messages.takeAck(a, 'later')).toBe('read');
    expect(await store.messages.applyAcks([])).toEqual([]);
  });

  it('records accepted sends, taking an ack stashed for their id meanwhile when it is further along', async () => {
    const pending = await Promise.all(
      ['p1', 'p2', 'p3'].map(async (body) => {
        const r = await insertOutbound(
          store,
          msg(b, { message_id: null, is_from_me: true, status: 'pending', body }),
        );
        return r.message;
      }),
    );
    await store.messages.stashAck(b, 'SENT-2', 'read');
    await store.messages.stashAck(b, 'SENT-3', 'sent');
    const at = '2026-04-01T08:00:00.000Z';
    const out = await store.tx(async (tx) => {
      const rows = pending.map((p, i) => ({
        id: p.id,
        instance_id: b,
        message_id: `SENT-${i + 1}`,
        timestamp: at,
      }));
      await tx.messages.lockMessageIds(rows);
      return tx.messages.recordSent([
        ...rows,
        { id: '00000000-0000-0000-0000-000000000000', instance_id: b, message_id: 'SENT-X', timestamp: at },
      ]);
    });
    expect(out.map((r) => r && [r.message.message_id, r.message.status, r.late])).toEqual([
      ['SENT-1', 'sent', null],
      ['SENT-2', 'read', 'read'],
      ['SENT-3', 'sent', null],
      null,
    ]);
    expect(out[0]?.message).toMatchObject({
      id: pending[0]!.id,
      body: 'p1',
      timestamp: at,
      company_id: 'bc1',
    });
    // Both stashes are consumed (the one not further along too).
    expect(await store.messages.takeAck(b, 'SENT-2')).toBeNull();
    expect(await store.messages.takeAck(b, 'SENT-3')).toBeNull();
    expect(await store.messages.recordSent([])).toEqual([]);
  });

  it('keeps an ack that overtakes a pre-assigned send on its row (no stash, no event) for recordSent', async () => {
    const outbound = async (id: string) =>
      (await insertOutbound(store, msg(b, { message_id: id, is_from_me: true, status: 'pending', body: id })))
        .message;
    const [early, plain] = [await outbound('PRE-1'), await outbound('PRE-2')];
    // No message-id lock: the pre-assigned row exists, and the statement locks it.
    const outcomes = await store.tx((tx) =>
      tx.messages.applyAcks([
        { instance_id: b, message_id: 'PRE-1', status: 'read' },
        { instance_id: b, message_id: 'PRE-1', status: 'delivered' },
      ]),
    );
    expect(outcomes.map((o) => o.kind)).toEqual(['stashed', 'stashed']);
    expect((await store.messages.get(b, early.id))?.status).toBe('pending');
    expect(await store.messages.takeAck(b, 'PRE-1')).toBeNull();
    const at = '2026-04-01T09:00:00.000Z';
    const out = await store.tx((tx) =>
      tx.messages.recordSent([
        { id: early.id, instance_id: b, message_id: 'PRE-1', timestamp: at, preassigned: true },
        { id: plain.id, instance_id: b, message_id: 'PRE-2', timestamp: at, preassigned: true },
      ]),
    );
    expect(out.map((r) => r && [r.message.message_id, r.message.status, r.late])).toEqual([
      ['PRE-1', 'read', 'read'],
      ['PRE-2', 'sent', null],
    ]);
    const kept = await db.driver.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${db.schema}".messages WHERE early_status IS NOT NULL`,
    );
    expect(kept[0]?.n).toBe(0);
    // Once recorded, an ack moves the row forward as usual.
    const after = await store.tx((tx) =>
      tx.messages.applyAcks([{ instance_id: b, message_id: 'PRE-2', status: 'delivered' }]),
    );
    expect(after.map((o) => o.kind)).toEqual(['progressed']);
  });

  it('finalises pre-assigned sends with their chats, activity, events (a late ack after its send) in one statement', async () => {
    const c = await newInstance();
    const [hook] = await db.driver.query<{ id: string }>(
      `INSERT INTO "${db.schema}".webhook_endpoints (company_id, instance_id, url, events)
       VALUES ('bc1', $1, 'http://127.0.0.1:9/h', '{message,message.ack}') RETURNING id`,
      [c],
    );
    const chat = '4915100000009@s.whatsapp.net';
    const emoji = '\u{1F600}'.repeat(70);
    const cut = `${'x'.repeat(119)}\u{1F600} and more`;
    const outbound = async (id: string, over: Partial<NewMessage> = {}) =>
      (
        await insertOutbound(
          store,
          msg(c, { message_id: id, chat_id: chat, is_from_me: true, status: 'pending', body: id, ...over }),
        )
      ).message;
    const rows = [
      await outbound('F-1', { from: '4915100000001:12@s.whatsapp.net' }),
      await outbound('F-2', { body: emoji, from: '123456789012345@lid' }),
      await outbound('F-3'),
      await outbound('F-4'),
      await outbound('F-5', { chat_id: 'g@g.us', is_group: true, body: null, type: 'image' }),
      await outbound('F-6', { chat_id: 'cut-chat', body: cut }),
    ];
    // F-3's read ack overtook its send (kept on the row); F-4's row is removed meanwhile.
    await store.tx((tx) => tx.messages.applyAcks([{ instance_id: c, message_id: 'F-3', status: 'read' }]));
    await db.driver.query(`DELETE FROM "${db.schema}".messages WHERE id = $1`, [rows[3]!.id]);
    const at = (h: number) => `2026-03-01T${10 + h}:00:00.000Z`;
    let statements = 0;
    const counting: Driver = {
      kind: db.driver.kind,
      query: (text, params) => {
        statements++;
        return db.driver.query(text, params);
      },
      transaction: (fn) => {
        statements += 2;
        return db.driver.transaction(fn);
      },
      close: async () => {},
    };
    const { results, events } = await createSqlStore(counting, db.schema).messages.finaliseSent(
      rows.map((r, i) => ({
        id: r.id,
        instance_id: c,
        message_id: r.message_id!,
        timestamp: at(i === 0 ? 2 : 1),
        preassigned: true,
      })),
      [c],
    );
    expect(statements).toBe(1);
    expect(results.map((r) => r && [r.message_id, r.status])).toEqual([
      ['F-1', 'sent'],
      ['F-2', 'sent'],
      ['F-3', 'read'],
      null,
      ['F-5', 'sent'],
      ['F-6', 'sent'],
    ]);
    // Each result is the row as the messages API reads it (sender phone included).
    for (const r of results) if (r) expect(r).toEqual(await store.messages.get(c, r.id));
    expect(results[0]?.sender_phone).toBe('+4915100000001');
    expect(results[1]?.sender_phone).toBeNull();
    // Events in input order: the late send shows `sent`, its ack follows as its own event.
    expect(
      events.map((e) => [e.type, (e.data.message as Message | undefined)?.message_id ?? e.data.status]),
    ).toEqual([
      ['message', 'F-1'],
      ['message', 'F-2'],
      ['message', 'F-3'],
      ['message.ack', 'read'],
      ['message', 'F-5'],
      ['message', 'F-6'],
    ]);
    const ids = events.map((e) => e.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(events[2]?.data.message).toEqual({ ...results[2], status: 'sent' });
    expect(events[3]).toMatchObject({
      instance_id: c,
      company_id: 'bc1',
      data: { id: results[2]!.id, message_id: 'F-3', chat_id: chat, status: 'read' },
    });
    for (const [k, i] of [
      [0, 0],
      [1, 1],
      [4, 4],
      [5, 5],
    ] as const) {
      expect(events[k]).toMatchObject({ type: 'message', instance_id: c, company_id: 'bc1' });
      expect(events[k]?.data.message).toEqual(results[i]);
    }
    const logged = await store.events.listSince({ since: ids[0]! - 1, limit: 10 });
    expect(logged.filter((e) => ids.includes(e.id))).toEqual(events);
    // Chats as touchMany of the sends: the latest one's time and preview (`body.slice(0, 120)`), nothing unread.
    expect(await store.chats.get(c, chat)).toMatchObject({
      name: null,
      unread_count: 0,
      last_message_at: at(2),
      last_message_preview: 'F-1',
    });
    expect(await store.chats.get(c, 'g@g.us')).toMatchObject({
      is_group: true,
      last_message_preview: '[image]',
    });
    // A preview is the first 120 code points: a character outside the BMP at the 120th is kept whole.
    expect((await store.chats.get(c, 'cut-chat'))?.last_message_preview).toBe(`${'x'.repeat(119)}\u{1F600}`);
    expect((await store.instances.get(c))?.last_activity_at).not.toBeNull();
    const outbox = await db.driver.query<{ event_id: number }>(
      `SELECT event_id FROM "${db.schema}".webhook_deliveries WHERE endpoint_id = $1 ORDER BY id`,
      [hook!.id],
    );
    expect(outbox.map((o) => Number(o.event_id))).toEqual(ids);
    // A second batch on the same chat: an earlier send keeps the chat's latest preview; the emoji one (70 code
    // points, 140 UTF-16 units) is whole; an empty caption previews as `[type]`, as an inbound message does.
    const again = await outbound('F-7', { body: emoji });
    const empty = await outbound('F-8', { chat_id: 'empty-chat', body: '', type: 'media' });
    await store.messages.finaliseSent(
      [
        { id: again.id, instance_id: c, message_id: 'F-7', timestamp: at(3), preassigned: true },
        { id: empty.id, instance_id: c, message_id: 'F-8', timestamp: at(3), preassigned: true },
      ],
      [],
    );
    expect((await store.chats.get(c, chat))?.last_message_preview).toBe(emoji);
    expect((await store.chats.get(c, 'empty-chat'))?.last_message_preview).toBe('[media]');
    expect(await store.messages.finaliseSent([], [c])).toEqual({ results: [], events: [] });
  });

  // PostgreSQL only: PGlite has one connection, so two transactions cannot be open at once (not registered there).
  const onPostgres = backend === 'postgres' ? it : () => undefined;
  onPostgres(
    'an ack and the record of its pre-assigned send serialise on the row, in either order',
    async () => {
      const waiting = async () => {
        for (;;) {
          const rows = await db.driver.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
            [`%${db.schema}%`],
          );
          if ((rows[0]?.n ?? 0) > 0) return;
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      const hold = () => {
        let release!: () => void;
        const gate = new Promise<void>((r) => {
          release = r;
        });
        return { gate, release };
      };
      const at = '2026-04-01T10:00:00.000Z';
      for (const first of ['send', 'ack'] as const) {
        const id = `RACE-${first}`;
        const row = (
          await insertOutbound(store, msg(b, { message_id: id, is_from_me: true, status: 'pending' }))
        ).message;
        const sent = { id: row.id, instance_id: b, message_id: id, timestamp: at, preassigned: true };
        const ack = { instance_id: b, message_id: id, status: 'delivered' as const };
        const h = hold();
        if (first === 'send') {
          // The send's record holds the row; the ack waits, then sees it sent and moves it on (its own event).
          const t1 = store.tx(async (tx) => {
            const r = await tx.messages.recordSent([sent]);
            await h.gate;
            return r;
          });
          await heldOpen(db);
          const t2 = store.tx((tx) => tx.messages.applyAcks([ack]));
          await waiting();
          h.release();
          expect((await t1)[0]?.late).toBeNull();
          expect((await t2).map((o) => o.kind)).toEqual(['progressed']);
        } else {
          // The ack holds the row; the send's record waits, then finds the ack kept on the row.
          const t2 = store.tx(async (tx) => {
            const r = await tx.messages.applyAcks([ack]);
            await h.gate;
            return r;
          });
          await heldOpen(db);
          const t1 = store.tx((tx) => tx.messages.recordSent([sent]));
          await waiting();
          h.release();
          expect((await t2).map((o) => o.kind)).toEqual(['stashed']);
          expect((await t1)[0]?.late).toBe('delivered');
        }
        expect((await store.messages.get(b, row.id))?.status).toBe('delivered');
      }
    },
  );

  it('inserts an outbound message only while its instance row is at the version read', async () => {
    const c = await newInstance();
    const v1 = (await store.instances.getVersioned(c))!.version;
    // Activity does not move the version (it changes nothing a send depends on).
    await store.instances.touchActivityMany([c]);
    expect((await store.instances.getVersioned(c))?.version).toBe(v1);
    const out = (body: string, key: string | null = null) =>
      msg(c, { message_id: null, is_from_me: true, status: 'pending', body, idempotency_key: key });
    expect((await insertOutboundIfUnchanged(store, out('at v1'), v1))?.inserted).toBe(true);
    await store.instances.update(c, { auth_status: 'reconnecting' });
    const v2 = (await store.instances.getVersioned(c))!.version;
    expect(v2).not.toBe(v1);
    expect(await insertOutboundIfUnchanged(store, out('stale'), v1)).toBeNull();
    const keyed = await insertOutboundIfUnchanged(store, out('keyed', 'k1'), v2);
    expect(keyed?.inserted).toBe(true);
    // A repeated key is answered with its message, whatever the version.
    const again = await insertOutboundIfUnchanged(store, out('keyed', 'k1'), v1);
    expect(again).toMatchObject({ inserted: false, message: { id: keyed!.message.id } });
    await store.instances.delete(c);
    expect(await store.instances.getVersioned(c)).toBeNull();
    expect(await insertOutboundIfUnchanged(store, out('gone'), v2)).toBeNull();
  });

  it('records activity for many instances at once', async () => {
    await store.instances.touchActivityMany([b, a, b]);
    expect((await store.instances.get(a))?.last_activity_at).not.toBeNull();
    expect((await store.instances.get(b))?.last_activity_at).not.toBeNull();
    await store.instances.touchActivityMany([]);
  });
});

/** Waits until a transaction of this schema has written and sits open (holding its row locks until it ends). */
async function heldOpen(db: TestDb): Promise<void> {
  for (;;) {
    const rows = await db.driver.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'transactionid' AND a.state = 'idle in transaction' AND a.query LIKE $1`,
      [`%${db.schema}%`],
    );
    if ((rows[0]?.n ?? 0) > 0) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}
