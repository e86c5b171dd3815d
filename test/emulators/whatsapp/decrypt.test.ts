// Contract test: a message Baileys cannot decrypt is answered with a retry receipt; a proper re-send then arrives.
import { proto, type WAMessage } from 'baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhatsAppEmulator } from './emulator.js';
import { connectClient, eventually, memoryAuthState, type TestClient } from './test-client.js';
import { restoreWhatsAppTrust, trustEmulator } from './trust.js';

const PHONE = '15550008888';

describe('emulator decrypt failures with real Baileys', () => {
  let emu: WhatsAppEmulator;
  let client: TestClient;
  const upserts: WAMessage[] = [];

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
    const auth = memoryAuthState();
    const first = connectClient(emu.url, auth);
    const { qr } = await first.waitForUpdate((u) => !!u.qr);
    await emu.scanQr(qr!, { phone: PHONE });
    await first.waitForClose();
    client = connectClient(emu.url, auth);
    client.sock.ev.on('messages.upsert', (u) => upserts.push(...u.messages));
    await client.waitForUpdate((u) => u.connection === 'open');
  });

  afterAll(async () => {
    client?.end();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  const texts = (id: string) => upserts.filter((m) => m.key.id === id && m.message?.conversation);
  const stubs = (id: string) =>
    upserts.filter((m) => m.key.id === id && m.messageStubType === proto.WebMessageInfo.StubType.CIPHERTEXT);

  it('recover: an undecryptable message gets a retry receipt, and the re-sent message is decrypted under the same id', async () => {
    const first = await emu.deliverText({ toPhone: PHONE, fromPhone: '4915100000031', text: 'hello' });
    await eventually(() => texts(first).length === 1);
    const id = await emu.deliverUndecryptable({
      toPhone: PHONE,
      fromPhone: '4915100000031',
      text: 'second try works',
      mode: 'recover',
    });
    await eventually(() => texts(id).length === 1, 8_000);
    expect(texts(id)[0]!.message?.conversation).toBe('second try works');
    expect(emu.retryReceipts(id)).toBe(1);
    expect(stubs(id).length).toBeGreaterThan(0); // Baileys surfaced the failed attempt as a CIPHERTEXT stub
  });

  it('never: every re-send fails; every attempt is only a CIPHERTEXT stub', async () => {
    const first = await emu.deliverText({ toPhone: PHONE, fromPhone: '4915100000032', text: 'hi' });
    await eventually(() => texts(first).length === 1);
    const id = await emu.deliverUndecryptable({
      toPhone: PHONE,
      fromPhone: '4915100000032',
      text: 'lost forever',
      mode: 'never',
    });
    await eventually(() => emu.retryReceipts(id) >= 2 && stubs(id).length > 1, 8_000);
    expect(texts(id)).toEqual([]);
  });
});
