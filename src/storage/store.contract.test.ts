// The storage contract: the same suite against embedded PGlite and real PostgreSQL.
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends, insertOutbound, newMessage, seedInstance } from '../../test/support/db.js';
import type { Store } from '../ports/store.js';
import { migrate, pendingMigrations, splitStatements } from './migrate.js';

const msg = newMessage;

describeOnBackends('storage contract', (db) => {
  let store: Store;
  let instanceId: string;

  beforeAll(async () => {
    store = db.store;
    await store.companies.ensure('c1', 'Company One');
    const inst = await seedInstance(store, {
      name: 'one',
      type_instance: ['api', 'mcp'],
      settings: { token: 'secret' },
      desired_state: 'running',
    });
    instanceId = inst.id;
  });

  it('is migrated and idempotent to migrate again', async () => {
    expect(await store.pendingMigrations()).toEqual([]);
    expect(await migrate(db.driver, db.schema)).toEqual([]);
    expect(await pendingMigrations(db.driver, db.schema)).toEqual([]);
  });

  it('splits migration files into statements', () => {
    expect(splitStatements('-- c\nCREATE TABLE a (x int);\nCREATE INDEX b ON a (x);\n')).toEqual([
      'CREATE TABLE a (x int)',
      'CREATE INDEX b ON a (x)',
    ]);
  });

  it('creates and reads instances with arrays and json', async () => {
    const inst = await store.instances.get(instanceId);
    expect(inst).toMatchObject({
      company_id: 'c1',
      type_instance: ['api', 'mcp'],
      status: 'created',
      auth_status: 'pending',
      desired_state: 'running',
      settings: { token: 'secret' },
    });
    expect(await store.instances.get('00000000-0000-0000-0000-000000000000')).toBeNull();
  });

  it('updates the QR with its timestamp and lists desired-running instances', async () => {
    const a = await store.instances.update(instanceId, { qr: 'QR1', auth_status: 'qr_ready' });
    expect(a?.qr).toBe('QR1');
    expect(a?.qr_updated_at).not.toBeNull();
    const b = await store.instances.update(instanceId, { qr: null });
    expect(b?.qr_updated_at).toBeNull();
    expect((await store.instances.listDesiredRunning()).map((i) => i.id)).toContain(instanceId);
  });

  it('paginates instances with a cursor and filters by company', async () => {
    for (let i = 0; i < 3; i++) await seedInstance(store, { company_id: 'c2', name: `n${i}` });
    const p1 = await store.instances.list({ company_id: 'c2', limit: 2 });
    expect(p1.items).toHaveLength(2);
    expect(p1.next_cursor).not.toBeNull();
    const p2 = await store.instances.list({ company_id: 'c2', limit: 2, cursor: p1.next_cursor! });
    expect(p2.items).toHaveLength(1);
    expect(p2.next_cursor).toBeNull();
    const names = [...p1.items, ...p2.items].map((i) => i.name).sort();
    expect(names).toEqual(['n0', 'n1', 'n2']);
  });

  it('never duplicates a message on re-delivery', async () => {
    const m = msg(instanceId, { message_id: 'dup-1' });
    const first = await store.messages.upsert(m);
    const second = await store.messages.upsert({ ...m, body: 'changed' });
    expect(first.inserted).toBe(true);
    expect(second.inserted).toBe(false);
    expect(second.message.id).toBe(first.message.id);
    expect(second.message.body).toBe('hello');
  });

  it('stores a message’s mentions (empty by default) and reads them back', async () => {
    const jids = ['4915100000002@s.whatsapp.net', '123456789012345@lid'];
    const one = await store.messages.upsert(msg(instanceId, { message_id: 'men-1', mentions: jids }));
    expect(one.message.mentions).toEqual(jids);
    expect((await store.messages.getByMessageId(instanceId, 'men-1'))?.mentions).toEqual(jids);
    const none = await insertOutbound(store, msg(instanceId, { message_id: null, status: 'pending' }));
    expect(none.message.mentions).toEqual([]);
    const page = await store.messages.list({ instance_id: instanceId, limit: 100 });
    expect(page.items.find((m) => m.message_id === 'men-1')?.mentions).toEqual(jids);
  });

  it('returns the first outbound message for a repeated idempotency key', async () => {
    const m = msg(instanceId, {
      message_id: null,
      is_from_me: true,
      status: 'pending',
      idempotency_key: 'k1',
      request_hash: 'h1',
    });
    const a = await insertOutbound(store, m);
    const b = await insertOutbound(store, { ...m, request_hash: 'h2' });
    expect(a.inserted).toBe(true);
    expect(b.inserted).toBe(false);
    expect(b.message.id).toBe(a.message.id);
    expect(b.request_hash).toBe('h1');
  });

  it('reads a chat newest first with keyset pagination', async () => {
    const chat = '4915100000099@s.whatsapp.net';
    const base = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 5; i++) {
      await store.messages.upsert(
        msg(instanceId, {
          chat_id: chat,
          message_id: `p-${i}`,
          body: `b${i}`,
          timestamp: new Date(base + i * 1000).toISOString(),
        }),
      );
    }
    const p1 = await store.messages.list({ instance_id: instanceId, chat_id: chat, limit: 3 });
    expect(p1.items.map((m) => m.body)).toEqual(['b4', 'b3', 'b2']);
    const p2 = await store.messages.list({
      instance_id: instanceId,
      chat_id: chat,
      limit: 3,
      cursor: p1.next_cursor!,
    });
    expect(p2.items.map((m) => m.body)).toEqual(['b1', 'b0']);
    const before = await store.messages.list({
      instance_id: instanceId,
      chat_id: chat,
      limit: 10,
      before: new Date(base + 2000).toISOString(),
    });
    expect(before.items.map((m) => m.body)).toEqual(['b1', 'b0']);
  });

  it('keeps chats and contacts', async () => {
    await store.chats.touch({
      instance_id: instanceId,
      chat_id: 'chat-a',
      name: 'Alice',
      is_group: false,
      at: '2026-01-02T00:00:00Z',
      preview: 'hi',
      unread_delta: 1,
    });
    await store.chats.touch({
      instance_id: instanceId,
      chat_id: 'chat-a',
      name: null,
      is_group: false,
      at: '2026-01-01T00:00:00Z',
      preview: 'older',
      unread_delta: 1,
    });
    const chat = await store.chats.get(instanceId, 'chat-a');
    expect(chat).toMatchObject({ name: 'Alice', last_message_preview: 'hi', unread_count: 2 });
    await store.contacts.upsert({
      instance_id: instanceId,
      contact_id: 'x@s.whatsapp.net',
      name: 'Xavier_%',
      phone: '+1',
    });
    expect(
      (await store.contacts.list({ instance_id: instanceId, query: 'xav', limit: 10 })).items,
    ).toHaveLength(1);
    expect(
      (await store.contacts.list({ instance_id: instanceId, query: '_%', limit: 10 })).items,
    ).toHaveLength(1);
    expect(
      (await store.contacts.list({ instance_id: instanceId, query: 'zzz', limit: 10 })).items,
    ).toHaveLength(0);
  });

  it('appends events with increasing ids and filters them', async () => {
    const e1 = await store.events.append({
      type: 'qr',
      instance_id: instanceId,
      company_id: 'c1',
      data: { qr: 'a' },
    });
    const e2 = await store.events.append({
      type: 'message',
      instance_id: instanceId,
      company_id: 'c1',
      data: { n: 1 },
    });
    const e3 = await store.events.append({ type: 'qr', instance_id: null, company_id: 'c2', data: {} });
    expect(typeof e1.id).toBe('number');
    expect(e2.id).toBeGreaterThan(e1.id);
    expect(await store.events.latestId()).toBe(e3.id);
    const since = await store.events.listSince({ since: e1.id - 1, limit: 10, company_id: 'c1' });
    expect(since.map((e) => e.id)).toEqual([e1.id, e2.id]);
    const typed = await store.events.listSince({ since: 0, limit: 10, types: ['message'] });
    expect(typed.map((e) => e.id)).toEqual([e2.id]);
  });

  it('commits or rolls back a transaction as a whole', async () => {
    await expect(
      store.tx(async (tx) => {
        await tx.events.append({ type: 'x.rollback', instance_id: null, company_id: 'c1', data: {} });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await store.events.listSince({ since: 0, limit: 100, types: ['x.rollback'] })).toHaveLength(0);
    await store.tx(async (tx) => {
      await tx.events.append({ type: 'x.commit', instance_id: null, company_id: 'c1', data: {} });
    });
    expect(await store.events.listSince({ since: 0, limit: 100, types: ['x.commit'] })).toHaveLength(1);
  });

  it('stores keys by hash and revokes them', async () => {
    const k = await store.keys.insert({
      kind: 'company',
      prefix: 'sb_co_abc',
      hash: 'f'.repeat(64),
      company_id: 'c1',
      instance_id: null,
      scopes: ['read'],
      label: null,
    });
    expect((await store.keys.findByHash('f'.repeat(64)))?.id).toBe(k.id);
    // Many at once: one answer per hash, in order, null for an unknown one.
    expect(
      (await store.keys.findManyByHash(['0'.repeat(64), 'f'.repeat(64), 'f'.repeat(64)])).map(
        (r) => r?.id ?? null,
      ),
    ).toEqual([null, k.id, k.id]);
    expect(await store.keys.findManyByHash([])).toEqual([]);
    expect(await store.keys.revoke(k.id)).toBe(true);
    expect(await store.keys.findByHash('f'.repeat(64))).toBeNull();
  });

  it('stamps when keys were last used, many in one statement', async () => {
    const key = (n: string) =>
      store.keys.insert({
        kind: 'company',
        prefix: `sb_co_t${n}`,
        hash: n.repeat(64),
        company_id: 'c1',
        instance_id: null,
        scopes: ['read'],
        label: null,
      });
    const [a, b, c] = [await key('1'), await key('2'), await key('3')];
    await store.keys.touchMany([b.id, a.id, b.id]);
    await store.keys.touchMany([]);
    const used = async () =>
      new Map((await store.keys.list({ company_id: 'c1' })).map((k) => [k.id, k.last_used_at]));
    const first = await used();
    expect(first.get(a.id)).not.toBeNull();
    expect(first.get(b.id)).not.toBeNull();
    expect(first.get(c.id)).toBeNull();
  });

  it('sets a meta value only once', async () => {
    expect(await store.meta.setIfAbsent('k', 'v1')).toBe('v1');
    expect(await store.meta.setIfAbsent('k', 'v2')).toBe('v1');
  });

  it('deletes an instance with its messages', async () => {
    const inst = await seedInstance(store);
    await store.messages.upsert(msg(inst.id));
    expect(await store.messages.count(inst.id)).toBe(1);
    expect(await store.instances.delete(inst.id)).toBe(true);
    expect(await store.messages.count(inst.id)).toBe(0);
  });

  it('inserts many pending rows in one statement, each with its own outcome', async () => {
    const inst = await seedInstance(store);
    const other = await seedInstance(store);
    const v1 = (await store.instances.getVersioned(inst.id))!.version;
    const out = (instance: string, body: string, key: string | null = null, hash: string | null = null) =>
      msg(instance, {
        message_id: null,
        is_from_me: true,
        status: 'pending',
        body,
        idempotency_key: key,
        request_hash: hash,
      });
    const [stored] = await store.messages.insertOutboundMany([
      { message: out(inst.id, 'stored', 'k-old', 'h-old'), version: null },
    ]);
    expect(stored).toMatchObject({ inserted: true, request_hash: 'h-old', message: { body: 'stored' } });
    await store.instances.update(other.id, { auth_status: 'reconnecting' });
    const results = await store.messages.insertOutboundMany([
      { message: out(inst.id, 'plain'), version: v1 },
      { message: out(inst.id, 'first', 'k-new', 'h1'), version: null },
      // The same key later in the same batch: the first input owns it, this one is answered with its row.
      { message: out(inst.id, 'second', 'k-new', 'h2'), version: null },
      { message: out(inst.id, 'again', 'k-old', 'h-other'), version: null },
      // The other instance moved past the version read (v1 is the first instance's): nothing written.
      { message: out(other.id, 'stale'), version: v1 },
      { message: out(other.id, 'fresh', 'k-new', 'h3'), version: null },
    ]);
    expect(
      results.map((r) => r && { inserted: r.inserted, body: r.message.body, hash: r.request_hash }),
    ).toEqual([
      { inserted: true, body: 'plain', hash: null },
      { inserted: true, body: 'first', hash: 'h1' },
      { inserted: false, body: 'first', hash: 'h1' },
      { inserted: false, body: 'stored', hash: 'h-old' },
      null,
      // A key is per instance: the other instance's `k-new` is its own row.
      { inserted: true, body: 'fresh', hash: 'h3' },
    ]);
    expect(results[2]?.message.id).toBe(results[1]?.message.id);
    expect(results[3]?.message.id).toBe(stored?.message.id);
    expect(results[0]?.message).toMatchObject({ instance_id: inst.id, status: 'pending', mentions: [] });
    expect(await store.messages.count(inst.id)).toBe(3);
    expect(await store.messages.count(other.id)).toBe(1);
    expect(await store.messages.insertOutboundMany([])).toEqual([]);
  });

  it('fails a batch of pending rows as a whole when one row is refused', async () => {
    const inst = await seedInstance(store);
    const gone = await seedInstance(store);
    await store.instances.delete(gone.id);
    const out = (instance: string) =>
      msg(instance, { message_id: null, is_from_me: true, status: 'pending' });
    // Unversioned, a row of a deleted instance breaks its foreign key: the statement writes nothing, so a group
    // commit can retry its rows one by one.
    await expect(
      store.messages.insertOutboundMany([
        { message: out(inst.id), version: null },
        { message: out(gone.id), version: null },
      ]),
    ).rejects.toThrow();
    expect(await store.messages.count(inst.id)).toBe(0);
  });
});
