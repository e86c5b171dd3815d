// Contract test: the real Baileys client against the local WhatsApp emulator (run on every Baileys upgrade).
import type { WAMessage, WAMessageUpdate } from 'baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhatsAppEmulator } from './emulator.js';
import { connectClient, eventually, memoryAuthState, type TestClient } from './test-client.js';
import { restoreWhatsAppTrust, trustEmulator } from './trust.js';

describe('WhatsApp emulator with real Baileys', () => {
  let emu: WhatsAppEmulator;
  const auth = memoryAuthState();
  let client: TestClient;
  let phone = '';
  const contact = '4915112345678';
  const contactJid = `${contact}@s.whatsapp.net`;

  const reconnect = async (): Promise<TestClient> => {
    client = connectClient(emu.url, auth);
    await client.waitForUpdate((u) => u.connection === 'open');
    return client;
  };

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
  });

  afterAll(async () => {
    client?.end();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('pairs via QR, restarts with 515 and opens with the phone in user.id', async () => {
    const first = connectClient(emu.url, auth);
    const { qr } = await first.waitForUpdate((u) => !!u.qr);
    const paired = await emu.scanQr(qr!, { phone: '15550001111' });
    phone = paired.phone;
    expect(phone).toBe('15550001111');
    expect(await first.waitForClose()).toBe(515);
    await reconnect();
    expect(client.sock.user?.id.startsWith(`${phone}:`)).toBe(true);
    expect(client.sock.user?.lid).toMatch(new RegExp(`^${paired.lid}(:\\d+)?@lid$`));
    expect(emu.liveConnections(phone)).toBe(1);
    expect(emu.accounts()).toEqual([{ phone, lid: paired.lid, devices: [1] }]);
  });

  it('decrypts a text the client sends', async () => {
    const sent = await client.sock.sendMessage(contactJid, { text: 'hello from baileys' });
    const got = await eventually(() => emu.sentMessages(phone).find((m) => m.id === sent?.key.id));
    expect(got).toMatchObject({ toPhone: contact, text: 'hello from baileys' });
    expect(got.error).toBeUndefined();
    // a second message uses the established session (type msg)
    const again = await client.sock.sendMessage(contactJid, { text: 'second' });
    await eventually(() =>
      emu.sentMessages(phone).find((m) => m.id === again?.key.id && m.text === 'second'),
    );
  });

  it('delivers an encrypted text from a contact as messages.upsert', async () => {
    const got = new Promise<WAMessage>((resolve) => {
      client.sock.ev.on('messages.upsert', ({ messages, type }) => {
        const m = messages.find((x) => !x.key.fromMe);
        if (m && type === 'notify') resolve(m);
      });
    });
    const id = await emu.deliverText({ toPhone: phone, fromPhone: contact, text: 'hi from contact' });
    const msg = await got;
    expect(msg.key.id).toBe(id);
    expect(msg.message?.conversation).toBe('hi from contact');
  });

  it('turns receipts into messages.update status 3 and 4', async () => {
    // Baileys buffers its own upsert of a sent message briefly; a receipt racing that buffer is merged
    // into the upsert instead of being emitted as messages.update, so wait for the upsert first.
    const upserted = new Set<string>();
    client.sock.ev.on('messages.upsert', ({ messages }) => {
      for (const m of messages) if (m.key.id) upserted.add(m.key.id);
    });
    const sent = await client.sock.sendMessage(contactJid, { text: 'receipt me' });
    const id = sent!.key.id!;
    await eventually(() => emu.sentMessages(phone).find((m) => m.id === id) && upserted.has(id));
    const statuses: number[] = [];
    client.sock.ev.on('messages.update', (ups: WAMessageUpdate[]) => {
      for (const u of ups)
        if (u.key.id === id && typeof u.update.status === 'number') statuses.push(u.update.status);
    });
    emu.sendReceipt({ accountPhone: phone, messageId: id, type: 'delivered' });
    await eventually(() => statuses.includes(3));
    emu.sendReceipt({ accountPhone: phone, messageId: id, type: 'read' });
    await eventually(() => statuses.includes(4));
  });

  it('conflict closes with 440 and saved creds log in again without a QR', async () => {
    emu.injectStreamError(phone, 'conflict');
    expect(await client.waitForClose()).toBe(440);
    await eventually(() => emu.liveConnections(phone) === 0);
    await reconnect();
    expect(client.updates.some((u) => u.qr)).toBe(false);
    expect(emu.liveConnections(phone)).toBe(1);
  });

  it('restart_required closes with 515; texts sent while offline arrive after reconnect', async () => {
    emu.injectStreamError(phone, 'restart_required');
    expect(await client.waitForClose()).toBe(515);
    await eventually(() => emu.liveConnections(phone) === 0);
    const id = await emu.deliverText({
      toPhone: phone,
      fromPhone: '4915199999999',
      text: 'while you were away',
    });
    const next = connectClient(emu.url, auth);
    const got = new Promise<WAMessage>((resolve) => {
      next.sock.ev.on('messages.upsert', ({ messages }) => {
        const m = messages.find((x) => x.key.id === id);
        if (m) resolve(m);
      });
    });
    client = next;
    await next.waitForUpdate((u) => u.connection === 'open');
    expect((await got).message?.conversation).toBe('while you were away');
  });

  it('dropConnection closes the socket abruptly (428)', async () => {
    emu.dropConnection(phone);
    expect(await client.waitForClose()).toBe(428);
    await reconnect();
  });

  it('setSilent stops answering iqs (pings time out) until turned off', async () => {
    const ping = () =>
      client.sock
        .query(
          {
            tag: 'iq',
            attrs: { to: 's.whatsapp.net', type: 'get', xmlns: 'w:p' },
            content: [{ tag: 'ping', attrs: {} }],
          },
          400,
        )
        .then((r) => r?.attrs.type ?? 'none')
        .catch(() => 'timeout');
    emu.setSilent(phone, true);
    expect(await ping()).not.toBe('result');
    emu.setSilent(phone, false);
    expect(await ping()).toBe('result');
  });

  it('a second live login of the same device replaces the older one with a 440 conflict and is counted', async () => {
    expect(emu.conflicts(phone)).toBe(0);
    const older = client;
    const newer = connectClient(emu.url, auth);
    await newer.waitForUpdate((u) => u.connection === 'open');
    expect(await older.waitForClose()).toBe(440);
    expect(emu.conflicts(phone)).toBe(1);
    expect(emu.conflicts()).toBe(1);
    await eventually(() => emu.liveConnections(phone) === 1);
    client = newer;
  });

  it('device_removed closes with 401 and the old creds are then refused with 401', async () => {
    emu.injectStreamError(phone, 'device_removed');
    expect(await client.waitForClose()).toBe(401);
    client = connectClient(emu.url, auth);
    expect(await client.waitForClose()).toBe(401);
    expect(emu.accounts()[0]?.devices).toEqual([]);
  });

  it('refuses unknown credentials with 401', async () => {
    const stranger = memoryAuthState();
    stranger.creds.me = { id: '19990000000:1@s.whatsapp.net', name: 'x' };
    const c = connectClient(emu.url, stranger);
    expect(await c.waitForClose()).toBe(401);
  });
});
