// End to end: LID identities through the real Baileys and the emulator — phone learned, chats merged, lookup API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayEvent, Instance } from '../../src/domain/model.js';
import { WhatsAppEmulator } from '../emulators/whatsapp/emulator.js';
import { restoreWhatsAppTrust, trustEmulator } from '../emulators/whatsapp/trust.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const PHONE = '15550003333';
const ANNA = '4915112340001'; // LID-addressed, phone told (sender_pn)
const BORIS = '4915112340002'; // LID only at first, phone told later
const CARL = '4915112340003'; // phone-addressed (sender_lid)

describe('whatsapp LID identities with real Baileys against the emulator', () => {
  let emu: WhatsAppEmulator;
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';

  const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const status = async (): Promise<Instance> => (await t.gw.store.instances.get(id))!;
  const messageEvents = async (): Promise<GatewayEvent[]> =>
    (await t.gw.store.events.listSince({ since: 0, limit: 10_000, instance_id: id })).filter(
      (e) => e.type === 'message',
    );
  const stored = (mid: string) => eventually(() => t.gw.store.messages.getByMessageId(id, mid), 10_000);

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
    t = await startTestGateway({
      env: { WHATSAPP_WS_URL: emu.url, WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey.toString('base64') },
    });
    headers = await createCompany(t, 'wa-lid');
    const res = await api('POST', '/api/v1/instances', { company_id: 'wa-lid', provider: 'whatsapp' });
    id = res.json().instance.id;
    const qr = await eventually(async () => {
      const r = await api('GET', `/api/v1/instances/${id}/qr`);
      return r.statusCode === 200 ? (r.json().qr as string) : null;
    }, 15_000);
    await emu.scanQr(qr, { phone: PHONE });
    await eventually(async () => (await status()).auth_status === 'client_ready', 15_000);
  }, 40_000);

  afterAll(async () => {
    await t?.close();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('a LID-addressed message with sender_pn is stored under the phone, with sender_phone, and the LID looks up', async () => {
    const mid = await emu.deliverText({
      toPhone: PHONE,
      fromPhone: ANNA,
      text: 'hi via lid',
      addressing: 'lid',
    });
    const m = await stored(mid);
    expect(m).toMatchObject({ chat_id: `${ANNA}@s.whatsapp.net`, from: `${ANNA}@s.whatsapp.net` });
    const ev = await eventually(async () =>
      (await messageEvents()).find((e) => (e.data.message as { message_id: string }).message_id === mid),
    );
    expect((ev.data.message as { sender_phone: string }).sender_phone).toBe(`+${ANNA}`);
    const lid = emu.contactLid(ANNA);
    const look = await eventually(async () => {
      const r = await api('GET', `/api/v1/instances/${id}/lids/${lid}@lid`);
      return r.statusCode === 200 ? r.json() : null;
    });
    expect(look).toEqual({ lid: `${lid}@lid`, pn: `${ANNA}@s.whatsapp.net`, phone: `+${ANNA}` });
  });

  it('a phone-addressed message with sender_lid teaches the pair too', async () => {
    const mid = await emu.deliverText({ toPhone: PHONE, fromPhone: CARL, text: 'hi via phone' });
    expect(await stored(mid)).toMatchObject({ chat_id: `${CARL}@s.whatsapp.net` });
    const r = await eventually(async () => {
      const x = await api('GET', `/api/v1/instances/${id}/lids/${emu.contactLid(CARL)}`);
      return x.statusCode === 200 ? x : null;
    });
    expect(r.json().phone).toBe(`+${CARL}`);
  });

  it('a LID-only chat merges into the phone chat once the phone is told; sending to the LID lands there too', async () => {
    const lid = `${emu.contactLid(BORIS)}@lid`;
    const first = await emu.deliverText({
      toPhone: PHONE,
      fromPhone: BORIS,
      text: 'who am I',
      addressing: 'lid-only',
      pushName: 'Boris',
    });
    expect(await stored(first)).toMatchObject({ chat_id: lid, from: lid, sender_phone: null });
    const unknown = await api('GET', `/api/v1/instances/${id}/lids/${lid}`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('SB_ERR_IDENTITY_NOT_FOUND');

    const second = await emu.deliverText({
      toPhone: PHONE,
      fromPhone: BORIS,
      text: 'it is me',
      addressing: 'lid',
      pushName: 'Boris',
    });
    const pn = `${BORIS}@s.whatsapp.net`;
    expect(await stored(second)).toMatchObject({ chat_id: pn, sender_phone: `+${BORIS}` });
    // the earlier LID message moved to the phone chat; one chat, one contact
    await eventually(async () => (await t.gw.store.messages.getByMessageId(id, first))?.chat_id === pn);
    expect(await t.gw.store.messages.getByMessageId(id, first)).toMatchObject({
      from: pn,
      sender_phone: `+${BORIS}`,
    });
    const chats = (await api('GET', `/api/v1/instances/${id}/chats`)).json().chats as Array<
      Record<string, unknown>
    >;
    expect(chats.filter((c) => c.chat_id === lid)).toEqual([]);
    expect(chats.find((c) => c.chat_id === pn)).toMatchObject({
      phone: `+${BORIS}`,
      unread_count: 2,
      name: 'Boris',
    });
    const contacts = (await api('GET', `/api/v1/instances/${id}/contacts?query=${BORIS}`)).json().contacts;
    expect(contacts).toEqual([expect.objectContaining({ contact_id: pn, phone: `+${BORIS}` })]);
    const byLid = await api('GET', `/api/v1/instances/${id}/messages?chat_id=${encodeURIComponent(lid)}`);
    expect(
      byLid
        .json()
        .messages.map((m: { message_id: string }) => m.message_id)
        .sort(),
    ).toEqual([first, second].sort());

    // `to` may be the LID: it is sent (the contact decrypts it) and stored under the phone chat
    const res = await api('POST', `/api/v1/instances/${id}/messages`, { to: lid, text: 'hello Boris' });
    expect(res.statusCode).toBe(201);
    expect(res.json().message).toMatchObject({ chat_id: pn });
    const got = await eventually(() =>
      emu.sentMessages(PHONE).find((m) => m.id === res.json().message.message_id),
    );
    expect(got).toMatchObject({ toPhone: BORIS, text: 'hello Boris' });
  });

  it('a phone recipient is sent to and its LID (from usync) is recorded', async () => {
    const DORA = '4915112340004';
    const res = await api('POST', `/api/v1/instances/${id}/messages`, { to: `+${DORA}`, text: 'hi Dora' });
    expect(res.statusCode).toBe(201);
    await eventually(() => emu.sentMessages(PHONE).find((m) => m.text === 'hi Dora'));
    const r = await eventually(async () => {
      const x = await api('GET', `/api/v1/instances/${id}/lids/${emu.contactLid(DORA)}`);
      return x.statusCode === 200 ? x : null;
    });
    expect(r.json().pn).toBe(`${DORA}@s.whatsapp.net`);
  });
});
