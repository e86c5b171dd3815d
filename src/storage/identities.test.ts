// Identities: LID ↔ phone pairs and the merge of a LID's chat, messages and contact into the phone JID.
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends, newMessage, seedInstance } from '../../test/support/db.js';
import type { IdentityStore } from '../ports/identities.js';
import type { NewMessage, Store } from '../ports/store.js';

const LID = '123456789012345@lid';
const PN = '4915100000009@s.whatsapp.net';

const msg = (instanceId: string, over: Partial<NewMessage>) =>
  newMessage(instanceId, { chat_id: LID, from: LID, to: 'me@s.whatsapp.net', ...over });

describeOnBackends('whatsapp identities', (db) => {
  let store: Store;
  let ids: IdentityStore;
  let inst = '';

  beforeAll(async () => {
    store = db.store;
    ids = store.identities;
    await store.companies.ensure('c1', 'One');
    inst = (await seedInstance(store, { provider: 'whatsapp', name: 'ids' })).id;
  });

  it('an unknown LID has no phone', async () => {
    expect(await ids.pnForLid(inst, LID)).toBeNull();
    expect(await ids.lidForPn(inst, PN)).toBeNull();
  });

  it('linking merges the LID chat, messages and contact into the phone JID, once', async () => {
    const t0 = new Date(Date.now() - 60_000).toISOString();
    const t1 = new Date().toISOString();
    await store.messages.upsert(msg(inst, { timestamp: t0, body: 'via lid' }));
    await store.chats.touch({
      instance_id: inst,
      chat_id: LID,
      name: 'Anna',
      is_group: false,
      at: t0,
      preview: 'via lid',
      unread_delta: 1,
    });
    await store.contacts.upsert({ instance_id: inst, contact_id: LID, name: 'Anna', phone: null });
    await store.messages.upsert(msg(inst, { chat_id: PN, from: PN, timestamp: t1, body: 'via phone' }));
    await store.chats.touch({
      instance_id: inst,
      chat_id: PN,
      name: null,
      is_group: false,
      at: t1,
      preview: 'via phone',
      unread_delta: 2,
    });

    const r = await ids.link(inst, { lid: LID, pn: PN });
    expect(r).toEqual({ changed: true, merged: { messages: 2, chats: 1, contacts: 1 } });
    expect(await ids.pnForLid(inst, LID)).toBe(PN);
    expect(await ids.lidForPn(inst, PN)).toBe(LID);

    const chats = (await store.chats.list({ instance_id: inst, limit: 10 })).items;
    expect(chats.map((c) => c.chat_id)).toEqual([PN]);
    expect(chats[0]).toMatchObject({ name: 'Anna', unread_count: 3, last_message_preview: 'via phone' });
    const msgs = (await store.messages.list({ instance_id: inst, chat_id: PN, limit: 10 })).items;
    expect(msgs.map((m) => m.body).sort()).toEqual(['via lid', 'via phone']);
    expect(msgs.every((m) => m.from === PN)).toBe(true);
    const contacts = (await store.contacts.list({ instance_id: inst, limit: 10 })).items;
    expect(contacts).toEqual([
      expect.objectContaining({ contact_id: PN, name: 'Anna', phone: '+4915100000009' }),
    ]);

    expect(await ids.link(inst, { lid: LID, pn: PN })).toEqual({
      changed: false,
      merged: { messages: 0, chats: 0, contacts: 0 },
    });
  });

  it('a newer pairing of the same phone replaces the older LID', async () => {
    const other = '999999999999999@lid';
    await ids.link(inst, { lid: other, pn: PN });
    expect(await ids.lidForPn(inst, PN)).toBe(other);
    expect(await ids.pnForLid(inst, LID)).toBeNull();
  });
});
