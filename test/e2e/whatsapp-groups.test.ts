// End to end: WhatsApp groups through the gateway, the real Baileys and the emulator (sender keys both ways).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayEvent, Instance } from '../../src/domain/model.js';
import { WhatsAppEmulator } from '../emulators/whatsapp/emulator.js';
import { restoreWhatsAppTrust, trustEmulator } from '../emulators/whatsapp/trust.js';
import { eventProblems } from '../support/event-schemas.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const PHONE = '15550005555';
const ANNA = '4915112360001';
const BORIS = '4915112360002';
const CARL = '4915112360003';
const jid = (p: string) => `${p}@s.whatsapp.net`;

describe('whatsapp groups with real Baileys against the emulator', () => {
  let emu: WhatsAppEmulator;
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';
  let groupId = '';

  const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const status = async (): Promise<Instance> => (await t.gw.store.instances.get(id))!;
  const events = async (type: string): Promise<GatewayEvent[]> =>
    (await t.gw.store.events.listSince({ since: 0, limit: 10_000, instance_id: id })).filter(
      (e) => e.type === type,
    );

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
    t = await startTestGateway({
      env: { WHATSAPP_WS_URL: emu.url, WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey.toString('base64') },
    });
    headers = await createCompany(t, 'wa-groups');
    const res = await api('POST', '/api/v1/instances', { company_id: 'wa-groups', provider: 'whatsapp' });
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

  it('creates a group through the API and lists it with metadata', async () => {
    const res = await api('POST', `/api/v1/instances/${id}/groups`, {
      subject: 'Team',
      participants: [`+${ANNA}`, BORIS],
    });
    expect(res.statusCode).toBe(201);
    const group = res.json().group;
    groupId = group.id;
    expect(group).toMatchObject({ subject: 'Team', size: 3, owner: jid(PHONE), owner_phone: `+${PHONE}` });
    expect(group.participants).toEqual(
      expect.arrayContaining([
        { id: jid(PHONE), phone: `+${PHONE}`, admin: 'superadmin' },
        { id: jid(ANNA), phone: `+${ANNA}`, admin: null },
      ]),
    );
    const list = await api('GET', `/api/v1/instances/${id}/groups`);
    expect(list.statusCode).toBe(200);
    expect(list.json().groups.map((g: { id: string }) => g.id)).toEqual([groupId]);
    // the group's chat is listed under its subject
    const chats = (await api('GET', `/api/v1/instances/${id}/chats`)).json().chats;
    expect(chats.find((c: { chat_id: string }) => c.chat_id === groupId)).toMatchObject({
      name: 'Team',
      is_group: true,
    });
  });

  it('sends to the group (sender keys) with a mention, without a metadata query per message', async () => {
    const before = emu.groups.queries(PHONE);
    const ids: string[] = [];
    for (const text of [`hi @${ANNA}`, 'two', 'three']) {
      const res = await api('POST', `/api/v1/instances/${id}/messages`, { to: groupId, text });
      expect(res.statusCode).toBe(201);
      expect(res.json().message).toMatchObject({ chat_id: groupId, is_group: true });
      // The stored message names whom it mentions, as an inbound one does.
      expect(res.json().message.mentions).toEqual(text.includes('@') ? [jid(ANNA)] : []);
      ids.push(res.json().message.message_id);
    }
    expect((await t.gw.store.messages.getByMessageId(id, ids[0]!))?.mentions).toEqual([jid(ANNA)]);
    const first = await eventually(() => emu.sentMessages(PHONE).find((m) => m.id === ids[0]));
    expect(first).toMatchObject({ group: groupId, text: `hi @${ANNA}` });
    expect(first.error).toBeUndefined();
    expect(first.message?.extendedTextMessage?.contextInfo?.mentionedJid).toEqual([jid(ANNA)]);
    await eventually(() => emu.sentMessages(PHONE).find((m) => m.id === ids[2] && m.text === 'three'));
    expect(emu.groups.queries(PHONE)).toBe(before);
  });

  it('stores a member’s group message with the sender and its phone', async () => {
    const mid = await emu.deliverGroupText({
      groupId,
      fromPhone: ANNA,
      text: 'hello from Anna',
      pushName: 'Anna',
    });
    const m = await eventually(() => t.gw.store.messages.getByMessageId(id, mid), 10_000);
    expect(m).toMatchObject({
      chat_id: groupId,
      group_id: groupId,
      is_group: true,
      from: jid(ANNA),
      sender_phone: `+${ANNA}`,
      body: 'hello from Anna',
    });
    // participant_lid taught the member's LID
    const look = await eventually(async () => {
      const r = await api('GET', `/api/v1/instances/${id}/lids/${emu.contactLid(ANNA)}`);
      return r.statusCode === 200 ? r.json() : null;
    });
    expect(look.pn).toBe(jid(ANNA));
    // a LID-addressed group message (participant = LID, participant_pn) is stored under the member's phone
    const lidMid = await emu.deliverGroupText({
      groupId,
      fromPhone: BORIS,
      text: 'via lid',
      addressing: 'lid',
    });
    const lm = await eventually(() => t.gw.store.messages.getByMessageId(id, lidMid), 10_000);
    expect(lm).toMatchObject({
      chat_id: groupId,
      from: jid(BORIS),
      sender_phone: `+${BORIS}`,
      body: 'via lid',
    });
  });

  it('stores the mentions of a member’s group message and carries them in its event and the API', async () => {
    const mid = await emu.deliverGroupText({
      groupId,
      fromPhone: ANNA,
      text: `@${PHONE} @${BORIS} look`,
      mentions: [PHONE, BORIS],
    });
    const m = await eventually(() => t.gw.store.messages.getByMessageId(id, mid), 10_000);
    expect(m).toMatchObject({ body: `@${PHONE} @${BORIS} look`, mentions: [jid(PHONE), jid(BORIS)] });
    const ev = await eventually(async () =>
      (await events('message')).find((e) => (e.data.message as { message_id?: string }).message_id === mid),
    );
    expect((ev.data.message as { mentions: string[] }).mentions).toEqual([jid(PHONE), jid(BORIS)]);
    const listed = (await api('GET', `/api/v1/instances/${id}/messages?chat_id=${groupId}&limit=50`)).json();
    const view = listed.messages.find((x: { message_id: string }) => x.message_id === mid);
    expect(view.mentions).toEqual([jid(PHONE), jid(BORIS)]);
    // in a LID-addressed message WhatsApp mentions by LID: a LID whose phone is known is stored as the phone JID
    const lidMid = await emu.deliverGroupText({
      groupId,
      fromPhone: BORIS,
      text: 'lid mentions',
      addressing: 'lid',
      mentions: [ANNA, CARL],
    });
    const lm = await eventually(() => t.gw.store.messages.getByMessageId(id, lidMid), 10_000);
    expect(lm.mentions).toEqual([jid(ANNA), `${emu.contactLid(CARL)}@lid`]);
    // a message without mentions has an empty list
    const plain = await emu.deliverGroupText({ groupId, fromPhone: ANNA, text: 'nobody' });
    expect((await eventually(() => t.gw.store.messages.getByMessageId(id, plain), 10_000)).mentions).toEqual(
      [],
    );
  });

  it('participant changes reach the event log (webhooks) and the cached group', async () => {
    const queries = emu.groups.queries(PHONE);
    emu.changeGroup({ groupId, action: 'remove', phones: [BORIS], actorPhone: PHONE });
    const removed = await eventually(async () =>
      (await events('group.participants')).find((e) => e.data.action === 'remove'),
    );
    expect(removed.data).toMatchObject({
      group_id: groupId,
      author: jid(PHONE),
      participants: [{ id: jid(BORIS), phone: `+${BORIS}` }],
    });
    const one = (await api('GET', `/api/v1/instances/${id}/groups/${groupId}`)).json().group;
    expect(one.participants.map((p: { id: string }) => p.id).sort()).toEqual([jid(PHONE), jid(ANNA)].sort());
    expect(emu.groups.queries(PHONE)).toBe(queries);

    const res = await api('POST', `/api/v1/instances/${id}/groups/${groupId}/participants`, {
      action: 'promote',
      participants: [`+${ANNA}`],
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().results).toEqual([{ id: jid(ANNA), status: 200 }]);
    await eventually(async () =>
      (await events('group.participants')).find((e) => e.data.action === 'promote'),
    );
    const after = (await api('GET', `/api/v1/instances/${id}/groups/${groupId}`)).json().group;
    expect(after.participants.find((p: { id: string }) => p.id === jid(ANNA)).admin).toBe('admin');
  });

  it('a group someone else creates with the account appears without a refetch', async () => {
    const { id: other } = emu.createGroup({ creatorPhone: CARL, subject: 'Carl’s', participants: [PHONE] });
    const created = await eventually(async () =>
      (await events('group.update')).find((e) => (e.data.group as { id?: string } | undefined)?.id === other),
    );
    expect(created.data).toMatchObject({ action: 'create', group: { subject: 'Carl’s', owner: jid(CARL) } });
    const list = (await api('GET', `/api/v1/instances/${id}/groups`)).json().groups;
    expect(list.map((g: { id: string }) => g.id).sort()).toEqual([groupId, other].sort());
  });

  it('WhatsApp rate-overlimit is a 429 SB_ERR_RATE_LIMITED with Retry-After, and nothing changes', async () => {
    emu.setGroupRateLimit(PHONE, true);
    try {
      const list = await api('GET', `/api/v1/instances/${id}/groups?refresh=true`);
      expect(list.statusCode).toBe(429);
      expect(list.json().error.code).toBe('SB_ERR_RATE_LIMITED');
      expect(Number(list.headers['retry-after'])).toBeGreaterThan(0);
      const create = await api('POST', `/api/v1/instances/${id}/groups`, {
        subject: 'Nope',
        participants: [ANNA],
      });
      expect(create.statusCode).toBe(429);
    } finally {
      emu.setGroupRateLimit(PHONE, false);
    }
    const list = (await api('GET', `/api/v1/instances/${id}/groups?refresh=true`)).json().groups;
    expect(list.map((g: { subject: string }) => g.subject).sort()).toEqual(['Carl’s', 'Team']);
  });

  it("every event in the log matches its type's schema (src/domain/events.ts)", async () => {
    const log = await t.gw.store.events.listSince({ since: 0, limit: 10_000 });
    expect(log.some((e) => e.type === 'group.participants')).toBe(true);
    expect(log.flatMap(eventProblems)).toEqual([]);
  });
});
