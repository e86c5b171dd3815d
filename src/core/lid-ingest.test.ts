// Ingest: a message still named by a LID whose phone the instance already knows is stored under the phone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../test/support/gateway.js';

const LID = '223344556677889@lid';
const PN = '4915112390001@s.whatsapp.net';

describe('LID ingest', () => {
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';

  beforeAll(async () => {
    t = await startTestGateway();
    headers = await createCompany(t, 'lid-ingest');
    id = (await createConnectedInstance(t, headers, 'lid-ingest')).id;
  });
  afterAll(() => t?.close());

  it('stores a LID-named inbound message under the known phone (chat, sender, sender_phone)', async () => {
    // The pair was learned (and merged) while this message was still on its way to the store.
    await t.gw.identities.link(id, { lid: LID, pn: PN });
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/simulate/inbound`,
      headers,
      payload: { from: LID, text: 'late LID message', message_id: 'LATE1' },
    });
    expect(res.statusCode).toBe(200);
    const m = await eventually(() => t.gw.store.messages.getByMessageId(id, 'LATE1'));
    expect(m).toMatchObject({ chat_id: PN, from: PN, sender_phone: '+4915112390001' });
    const chats = (await t.gw.store.chats.list({ instance_id: id, limit: 10 })).items.map((c) => c.chat_id);
    expect(chats).toEqual([PN]);
  });

  it('leaves a LID without a known phone as it is', async () => {
    const other = '998877665544332@lid';
    await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/simulate/inbound`,
      headers,
      payload: { from: other, text: 'unknown', message_id: 'LATE2' },
    });
    const m = await eventually(() => t.gw.store.messages.getByMessageId(id, 'LATE2'));
    expect(m).toMatchObject({ chat_id: other, from: other, sender_phone: null });
  });
});
