// End to end: media through the gateway, the real Baileys and the emulator's media hosts (WhatsApp media crypto).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../../src/domain/model.js';
import { WhatsAppEmulator } from '../emulators/whatsapp/emulator.js';
import { TINY_PNG as PNG, trustMediaHost } from '../emulators/whatsapp/media-server.js';
import { restoreWhatsAppTrust, trustEmulator } from '../emulators/whatsapp/trust.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const PHONE = '15550007777';
const ANNA = '4915112380001';

describe('whatsapp media with real Baileys against the emulator', () => {
  let emu: WhatsAppEmulator;
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';
  let untrust = () => {};
  let files: Server;
  let filesUrl = '';

  const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const status = async (): Promise<Instance> => (await t.gw.store.instances.get(id))!;
  const send = async (media: Record<string, unknown>, text?: string) => {
    const res = await api('POST', `/api/v1/instances/${id}/messages`, { to: `+${ANNA}`, media, text });
    expect(res.statusCode).toBe(201);
    const mid = res.json().message.message_id as string;
    return eventually(() => emu.sentMessages(PHONE).find((m) => m.id === mid), 10_000);
  };

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start({ media: true });
    trustEmulator(emu.rootPublicKey);
    untrust = trustMediaHost(emu.media!.ca);
    files = createServer((_req, res) => {
      res.setHeader('content-type', 'image/png');
      res.end(PNG);
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/pixel.png`;
    t = await startTestGateway({
      env: {
        WHATSAPP_WS_URL: emu.url,
        WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey.toString('base64'),
        // media by URL from the local file server above (the guarded fetch refuses private addresses otherwise)
        OUTBOUND_ALLOW_PRIVATE: 'true',
      },
    });
    headers = await createCompany(t, 'wa-media');
    const res = await api('POST', '/api/v1/instances', { company_id: 'wa-media', provider: 'whatsapp' });
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
    untrust();
    await emu?.close();
    await new Promise((r) => files?.close(r));
    restoreWhatsAppTrust();
  });

  it('an image (base64) arrives encrypted on the media host and decrypts to the same bytes', async () => {
    const got = await send({ base64: PNG.toString('base64'), mimetype: 'image/png', caption: 'a pixel' });
    expect(got.media).toMatchObject({ kind: 'image', mimetype: 'image/png', data: PNG });
    expect(got.media?.error).toBeUndefined();
    expect(got.message?.imageMessage?.caption).toBe('a pixel');
  });

  it('an image by URL is fetched through the guarded fetch and sent', async () => {
    const got = await send({ url: filesUrl, mimetype: 'image/png' });
    expect(got.media).toMatchObject({ kind: 'image', data: PNG });
  });

  it('a document keeps its file name; an Ogg/Opus audio goes as a voice note; a video as a video', async () => {
    const pdf = Buffer.from('%PDF-1.4 gateway document');
    const doc = await send({
      base64: pdf.toString('base64'),
      mimetype: 'application/pdf',
      filename: 'offer.pdf',
    });
    expect(doc.media).toMatchObject({ kind: 'document', fileName: 'offer.pdf', data: pdf });
    const ogg = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(300, 3)]);
    const voice = await send({ base64: ogg.toString('base64'), mimetype: 'audio/ogg; codecs=opus' });
    expect(voice.media).toMatchObject({ kind: 'audio', ptt: true, data: ogg });
    expect(voice.media?.error).toBeUndefined();
    const mp4 = Buffer.concat([Buffer.from('\x00\x00\x00\x18ftypmp42'), Buffer.alloc(120, 2)]);
    const video = await send({ base64: mp4.toString('base64'), mimetype: 'video/mp4', caption: 'clip' });
    expect(video.media).toMatchObject({ kind: 'video', mimetype: 'video/mp4', data: mp4 });
  });

  it('a WebP goes as a sticker (no caption), and a sticker received is stored as one and downloadable', async () => {
    const webp = Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 '), Buffer.alloc(40, 7)]);
    const out = await send({ base64: webp.toString('base64'), mimetype: 'image/webp' });
    expect(out.media).toMatchObject({ kind: 'sticker', mimetype: 'image/webp', data: webp });
    expect(out.media?.error).toBeUndefined();
    expect(out.message?.stickerMessage).toBeTruthy();
    expect(out.message?.imageMessage).toBeFalsy();

    const sid = await emu.deliverMedia({
      toPhone: PHONE,
      fromPhone: ANNA,
      kind: 'sticker',
      data: webp,
      mimetype: 'image/webp',
    });
    const sm = await eventually(() => t.gw.store.messages.getByMessageId(id, sid), 10_000);
    expect(sm).toMatchObject({ type: 'sticker', media: { mimetype: 'image/webp', width: 512, height: 512 } });
    const res = await api('GET', `/api/v1/instances/${id}/messages/${sid}/media`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^image\/webp/);
    expect(res.rawPayload).toEqual(webp);
  });

  it('inbound media is stored as a reference and downloaded on demand through the media route', async () => {
    const data = Buffer.from('inbound file '.repeat(50));
    const mid = await emu.deliverMedia({
      toPhone: PHONE,
      fromPhone: ANNA,
      kind: 'document',
      data,
      mimetype: 'text/plain',
      fileName: 'notes.txt',
    });
    const m = await eventually(() => t.gw.store.messages.getByMessageId(id, mid), 10_000);
    expect(m).toMatchObject({ type: 'document', media: { mimetype: 'text/plain', filename: 'notes.txt' } });
    const res = await api('GET', `/api/v1/instances/${id}/messages/${mid}/media`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.rawPayload).toEqual(data);

    const voice = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(64, 9)]);
    const vid = await emu.deliverMedia({
      toPhone: PHONE,
      fromPhone: ANNA,
      kind: 'audio',
      data: voice,
      mimetype: 'audio/ogg; codecs=opus',
      ptt: true,
    });
    const vm = await eventually(() => t.gw.store.messages.getByMessageId(id, vid), 10_000);
    expect(vm).toMatchObject({ type: 'audio', media: { voice: true } });
    const vr = await api('GET', `/api/v1/instances/${id}/messages/${vid}/media`);
    expect(vr.rawPayload).toEqual(voice);
  });
});
