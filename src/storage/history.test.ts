// The history repository on both drivers: idempotent batches, chats kept current, live messages untouched.
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends, newMessage, seedInstance } from '../../test/support/db.js';
import type { HistoryStore } from '../ports/history.js';
import type { ProviderMessage } from '../ports/provider.js';

const msg = (id: string, over: Partial<ProviderMessage> = {}): ProviderMessage => ({
  message_id: id,
  chat_id: '4915100000001@s.whatsapp.net',
  from: '4915100000001@s.whatsapp.net',
  to: '15550001111@s.whatsapp.net',
  body: `body ${id}`,
  type: 'text',
  is_from_me: false,
  is_group: false,
  contact_name: 'Old Friend',
  timestamp: '2026-11-30T10:00:00.000Z',
  ...over,
});

describeOnBackends('history repository', (db) => {
  let repo: HistoryStore;
  let instanceId: string;

  beforeAll(async () => {
    repo = db.store.history;
    await db.store.companies.ensure('hc', 'History Co');
    const inst = await seedInstance(db.store, {
      company_id: 'hc',
      provider: 'whatsapp',
      desired_state: 'running',
    });
    instanceId = inst.id;
  });

  it('stores a batch once: the same batch again reports duplicates and changes nothing', async () => {
    const batch = [
      msg('H1'),
      msg('H2', {
        is_from_me: true,
        from: '15550001111@s.whatsapp.net',
        timestamp: '2026-11-30T11:00:00.000Z',
      }),
      msg('H1'), // repeated inside the batch
    ];
    expect(await repo.storeBatch(instanceId, batch)).toEqual({ stored: 2, duplicates: 0 });
    expect(await repo.storeBatch(instanceId, batch)).toEqual({ stored: 0, duplicates: 2 });
    const page = await db.store.messages.list({ instance_id: instanceId, limit: 10 });
    expect(page.items.map((m) => [m.message_id, m.status, m.company_id]).sort()).toEqual([
      ['H1', 'received', 'hc'],
      ['H2', 'sent', 'hc'],
    ]);
    const chat = await db.store.chats.get(instanceId, '4915100000001@s.whatsapp.net');
    expect(chat).toMatchObject({ name: 'Old Friend', last_message_preview: 'body H2', unread_count: 0 });
  });

  it('keeps the mentions of a history message (none: an empty list)', async () => {
    const jids = ['4915100000002@s.whatsapp.net', '123456789012345@lid'];
    await repo.storeBatch(instanceId, [msg('HM1', { mentions: jids }), msg('HM2')]);
    expect((await db.store.messages.getByMessageId(instanceId, 'HM1'))?.mentions).toEqual(jids);
    expect((await db.store.messages.getByMessageId(instanceId, 'HM2'))?.mentions).toEqual([]);
  });

  it('never moves a chat back to an older preview, and leaves a live message as it was', async () => {
    const live = await db.store.messages.upsert(
      newMessage(instanceId, {
        company_id: 'hc',
        message_id: 'LIVE1',
        chat_id: '4915100000002@s.whatsapp.net',
        from: '4915100000002@s.whatsapp.net',
        body: 'live body',
        status: 'read',
        timestamp: '2026-12-01T10:00:00.000Z',
      }),
    );
    expect(live.inserted).toBe(true);
    const old = msg('H3', { body: 'older', timestamp: '2026-11-01T10:00:00.000Z' });
    const result = await repo.storeBatch(instanceId, [old, msg('LIVE1', { body: 'rewritten?' })]);
    expect(result).toEqual({ stored: 1, duplicates: 1 });
    expect((await db.store.messages.getByMessageId(instanceId, 'LIVE1'))?.body).toBe('live body');
    const chat = await db.store.chats.get(instanceId, '4915100000001@s.whatsapp.net');
    expect(chat?.last_message_preview).toBe('body H2');
  });

  it('an empty batch is a no-op', async () => {
    expect(await repo.storeBatch(instanceId, [])).toEqual({ stored: 0, duplicates: 0 });
  });
});
