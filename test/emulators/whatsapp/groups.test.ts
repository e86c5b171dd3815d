// Contract test: groups between the real Baileys client and the emulator (w:g2, w:gp2, sender keys both ways).
import type { WAMessage } from 'baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhatsAppEmulator } from './emulator.js';
import { connectClient, eventually, memoryAuthState, type TestClient } from './test-client.js';
import { restoreWhatsAppTrust, trustEmulator } from './trust.js';

const PHONE = '15550004444';
const ANNA = '4915112350001';
const BORIS = '4915112350002';
const jid = (p: string) => `${p}@s.whatsapp.net`;

describe('WhatsApp emulator groups with real Baileys', () => {
  let emu: WhatsAppEmulator;
  const auth = memoryAuthState();
  let client: TestClient;
  const upserts: WAMessage[] = [];
  const participantUpdates: Array<{ id: string; action: string; participants: unknown[] }> = [];
  let groupId = '';

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
    const first = connectClient(emu.url, auth);
    const { qr } = await first.waitForUpdate((u) => !!u.qr);
    await emu.scanQr(qr!, { phone: PHONE });
    await first.waitForClose();
    client = connectClient(emu.url, auth);
    client.sock.ev.on('messages.upsert', (u) => upserts.push(...u.messages));
    client.sock.ev.on('group-participants.update', (u) => participantUpdates.push(u));
    await client.waitForUpdate((u) => u.connection === 'open');
  }, 30_000);

  afterAll(async () => {
    client?.end();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('creates a group and reads its metadata and the participating list', async () => {
    const meta = await client.sock.groupCreate('Team', [jid(ANNA), jid(BORIS)]);
    groupId = meta.id;
    expect(meta).toMatchObject({ subject: 'Team', size: 3 });
    expect(meta.participants.find((p) => p.id === jid(PHONE))?.admin).toBe('superadmin');
    const again = await client.sock.groupMetadata(groupId);
    expect(again.participants.map((p) => p.id).sort()).toEqual([jid(PHONE), jid(ANNA), jid(BORIS)].sort());
    const all = await client.sock.groupFetchAllParticipating();
    expect(Object.keys(all)).toEqual([groupId]);
  });

  it('sends to the group with sender keys that the emulator decrypts, twice', async () => {
    const sent = await client.sock.sendMessage(groupId, { text: 'hello team' });
    const got = await eventually(() => emu.sentMessages(PHONE).find((m) => m.id === sent?.key.id));
    expect(got).toMatchObject({ group: groupId, text: 'hello team' });
    expect(got.error).toBeUndefined();
    const second = await client.sock.sendMessage(groupId, { text: 'again' });
    const got2 = await eventually(() => emu.sentMessages(PHONE).find((m) => m.id === second?.key.id));
    expect(got2).toMatchObject({ text: 'again' });
    expect(got2.error).toBeUndefined();
  });

  it('receives a member skmsg (with its sender key) as a group message', async () => {
    const id = await emu.deliverGroupText({ groupId, fromPhone: ANNA, text: 'hi all', mentions: [PHONE] });
    const m = await eventually(() => upserts.find((u) => u.key.id === id));
    expect(m.key).toMatchObject({ remoteJid: groupId, participant: jid(ANNA), fromMe: false });
    expect(m.message?.extendedTextMessage?.text).toBe('hi all');
    expect(m.message?.extendedTextMessage?.contextInfo?.mentionedJid).toEqual([jid(PHONE)]);
    const id2 = await emu.deliverGroupText({ groupId, fromPhone: ANNA, text: 'second' });
    const m2 = await eventually(() => upserts.find((u) => u.key.id === id2));
    expect(m2.message?.conversation).toBe('second');
  });

  it('participant changes arrive as group-participants.update', async () => {
    emu.changeGroup({ groupId, action: 'remove', phones: [BORIS], actorPhone: PHONE });
    const u = await eventually(() => participantUpdates.find((x) => x.action === 'remove'));
    expect(u.id).toBe(groupId);
    const res = await client.sock.groupParticipantsUpdate(groupId, [jid(BORIS)], 'add');
    expect(res).toEqual([expect.objectContaining({ status: '200', jid: jid(BORIS) })]);
    await eventually(() => participantUpdates.find((x) => x.action === 'add'));
  });

  it('answers 429 rate-overlimit while limited', async () => {
    emu.setGroupRateLimit(PHONE, true);
    await expect(client.sock.groupMetadata(groupId)).rejects.toMatchObject({
      data: 429,
      message: 'rate-overlimit',
    });
    emu.setGroupRateLimit(PHONE, false);
    await expect(client.sock.groupMetadata(groupId)).resolves.toMatchObject({ id: groupId });
  });
});
