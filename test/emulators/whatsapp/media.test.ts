// Contract test: media between the real Baileys client and the emulator's media hosts (WhatsApp media encryption).
import { downloadMediaMessage, type WAMessage } from 'baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhatsAppEmulator } from './emulator.js';
import { decryptMedia, encryptMedia, TINY_PNG as PNG, trustMediaHost } from './media-server.js';
import { connectClient, eventually, memoryAuthState, type TestClient } from './test-client.js';
import { restoreWhatsAppTrust, trustEmulator } from './trust.js';

const PHONE = '15550006666';
const ANNA = '4915112370001';
describe('WhatsApp emulator media with real Baileys', () => {
  let emu: WhatsAppEmulator;
  const auth = memoryAuthState();
  let client: TestClient;
  let untrust = () => {};
  const upserts: WAMessage[] = [];

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start({ media: true });
    trustEmulator(emu.rootPublicKey);
    untrust = trustMediaHost(emu.media!.ca);
    const first = connectClient(emu.url, auth);
    const { qr } = await first.waitForUpdate((u) => !!u.qr);
    await emu.scanQr(qr!, { phone: PHONE });
    await first.waitForClose();
    client = connectClient(emu.url, auth);
    client.sock.ev.on('messages.upsert', (u) => upserts.push(...u.messages));
    await client.waitForUpdate((u) => u.connection === 'open');
  }, 30_000);

  afterAll(async () => {
    client?.end();
    untrust();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('our media crypto round-trips and refuses a flipped byte', () => {
    const plain = Buffer.from('some document bytes '.repeat(20));
    const e = encryptMedia(plain, 'document');
    expect(decryptMedia(e.enc, 'document', e)).toEqual(plain);
    const bad = Buffer.from(e.enc);
    bad[3]! ^= 1;
    expect(() => decryptMedia(bad, 'document', { mediaKey: e.mediaKey })).toThrow(/MAC/);
    expect(() => decryptMedia(e.enc, 'image', { mediaKey: e.mediaKey })).toThrow();
  });

  it('an image, a document, a voice note and a video uploaded by Baileys decrypt at the emulator', async () => {
    const jid = `${ANNA}@s.whatsapp.net`;
    const doc = Buffer.from('%PDF-1.4 tiny test document');
    const ogg = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(200, 7)]);
    const mp4 = Buffer.concat([Buffer.from('\x00\x00\x00\x18ftypmp42'), Buffer.alloc(100, 1)]);
    const sent = [
      await client.sock.sendMessage(jid, { image: PNG, mimetype: 'image/png', caption: 'a pixel' }),
      await client.sock.sendMessage(jid, { document: doc, mimetype: 'application/pdf', fileName: 'a.pdf' }),
      await client.sock.sendMessage(jid, {
        audio: ogg,
        mimetype: 'audio/ogg; codecs=opus',
        ptt: true,
        seconds: 1,
      }),
      await client.sock.sendMessage(jid, { video: mp4, mimetype: 'video/mp4' }),
    ];
    const got = await Promise.all(
      sent.map((s) => eventually(() => emu.sentMessages(PHONE).find((m) => m.id === s?.key.id))),
    );
    expect(got.map((g) => g.media?.error)).toEqual([undefined, undefined, undefined, undefined]);
    expect(got[0]!.media).toMatchObject({ kind: 'image', mimetype: 'image/png', data: PNG });
    expect(got[1]!.media).toMatchObject({ kind: 'document', fileName: 'a.pdf', data: doc });
    expect(got[2]!.media).toMatchObject({ kind: 'audio', ptt: true, data: ogg });
    expect(got[3]!.media).toMatchObject({ kind: 'video', mimetype: 'video/mp4', data: mp4 });
  });

  it('media a contact sends downloads and decrypts in Baileys', async () => {
    const data = Buffer.from('hello media '.repeat(100));
    const id = await emu.deliverMedia({
      toPhone: PHONE,
      fromPhone: ANNA,
      kind: 'document',
      data,
      mimetype: 'text/plain',
      fileName: 'hello.txt',
    });
    const m = await eventually(() => upserts.find((u) => u.key.id === id));
    expect(m.message?.documentMessage?.fileName).toBe('hello.txt');
    const bytes = await downloadMediaMessage(m, 'buffer', {});
    expect(Buffer.from(bytes)).toEqual(data);
  });
});
