// The telegram provider end to end behind a real gateway: polling against telegram-test-api, webhooks and media
// against our Bot API fake.
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TelegramServer } from 'telegram-test-api/lib/telegramServer.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBotApi } from '../../../test/emulators/telegram/fake-bot-api.js';
import { openTestDb, type TestDb } from '../../../test/support/db.js';
import {
  createCompany,
  eventually,
  postInstance,
  postMessage,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { freePort } from '../../../test/support/net.js';
import type { GatewayEvent } from '../../domain/model.js';
import { webhookSecret } from './bot-api.js';

const TOKEN = '123456789:AAHtestTOKENtestTOKENtestTOKEN_abc-12';
const FAKE_TOKEN = '987654321:AAFfakeTOKENfakeTOKENfakeTOKEN_xyz-9';
const PUBLIC = 'https://gw.example.test';
const PNG_1PX =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

// One database for both gateways of this file (opening PGlite is the slow part of these tests).
let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => {
  await db?.close();
});

describe('telegram provider against telegram-test-api', () => {
  let server: TelegramServer;
  let t: TestGateway;
  let headers: Record<string, string>;
  const events: GatewayEvent[] = [];
  let instanceId = '';

  beforeAll(async () => {
    server = new TelegramServer({ port: await freePort(), host: '127.0.0.1' });
    await server.start();
    t = await startTestGateway({ db, env: { TELEGRAM_API_ROOT: server.config.apiURL } });
    t.gw.bus.subscribe((e) => events.push(e));
    headers = await createCompany(t, 'tg-co');
  });

  afterAll(async () => {
    await t?.close({ keepDb: true });
    await server?.stop();
  });

  it('a new instance reaches client_ready with account @username within a second of creation', async () => {
    const res = await postInstance(t, headers, { company_id: 'tg-co', provider: 'telegram', token: TOKEN });
    expect(res.statusCode).toBe(201);
    instanceId = res.json().instance.id;
    const ready = await eventually(async () => {
      const inst = await t.gw.store.instances.get(instanceId);
      return inst?.auth_status === 'client_ready' ? inst : null;
    });
    expect(ready.account).toBe('@TestNameBot');
    expect(ready.status).toBe('running');
    const connected = events.find((e) => e.type === 'connected' && e.instance_id === instanceId);
    expect(connected?.data.account).toBe('@TestNameBot');
    // Measured by the gateway's own clock: from the instance row's creation to the committed `connected` event.
    expect(Date.parse(connected!.created_at) - Date.parse(ready.created_at)).toBeLessThan(1000);
  });

  it('never returns the token from the API', async () => {
    const one = await t.app.inject({ method: 'GET', url: `/api/v1/instances/${instanceId}`, headers });
    expect(one.statusCode).toBe(200);
    expect(one.body).not.toContain(TOKEN);
    expect(one.json().instance.settings.bot_username).toBe('TestNameBot');
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/instances?provider=telegram', headers });
    expect(list.json().instances).toHaveLength(1);
    expect(list.body).not.toContain(TOKEN);
    expect(list.body).not.toContain(TOKEN.split(':')[1]);
    expect(JSON.stringify(events)).not.toContain(TOKEN.split(':')[1]);
  });

  it('stores an inbound text and publishes a message event', async () => {
    const client = server.getClient(TOKEN, { userId: 4242, chatId: 4242, firstName: 'Ana', userName: 'ana' });
    await client.sendMessage(client.makeMessage('hello bot'));
    const msg = await eventually(async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/api/v1/instances/${instanceId}/messages`,
        headers,
      });
      return res.json().messages.find((m: { body: string }) => m.body === 'hello bot');
    });
    expect(msg).toMatchObject({
      chat_id: '4242',
      from: '4242',
      type: 'text',
      is_from_me: false,
      contact_name: 'Ana',
    });
    expect(msg.message_id).toMatch(/^4242:\d+$/);
    const ev = await eventually(() =>
      events.find((e) => e.type === 'message' && (e.data.message as { body: string }).body === 'hello bot'),
    );
    expect(ev.instance_id).toBe(instanceId);
    const chats = await t.app.inject({
      method: 'GET',
      url: `/api/v1/instances/${instanceId}/chats`,
      headers,
    });
    expect(chats.json().chats[0]).toMatchObject({ chat_id: '4242', unread_count: 1 });
  });

  it('sends an outbound text that arrives at the Bot API', async () => {
    const res = await postMessage(t, headers, instanceId, { to: '4242', text: 'hi from switchboard' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().message).toMatchObject({ status: 'sent', chat_id: '4242', is_from_me: true });
    expect(res.json().message.message_id).toMatch(/^4242:\d+$/);
    const history = await server.getUpdatesHistory(TOKEN);
    const botMsg = history.find(
      (u: object) => 'message' in u && (u.message as { text?: string }).text === 'hi from switchboard',
    );
    expect(botMsg).toBeDefined();
    expect(Number((botMsg as { message: { chat_id: string } }).message.chat_id)).toBe(4242);
  });

  it('refuses a recipient that is not a Telegram chat id with 400', async () => {
    const res = await postMessage(t, headers, instanceId, { to: 'not a chat', text: 'x' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('SB_ERR_VALIDATION');
  });

  it('stops and restarts, coming back ready', async () => {
    const stop = await t.app.inject({ method: 'POST', url: `/api/v1/instances/${instanceId}/stop`, headers });
    expect(stop.json().instance).toMatchObject({ status: 'stopped', auth_status: 'disconnected' });
    expect(t.gw.supervisor.has(instanceId)).toBe(false);
    const start = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${instanceId}/start`,
      headers,
    });
    expect(start.statusCode).toBe(200);
    await eventually(
      async () => (await t.gw.store.instances.get(instanceId))?.auth_status === 'client_ready',
    );
  });
});

describe('telegram provider against the Bot API fake (webhook mode)', () => {
  const fake = new FakeBotApi();
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';

  beforeAll(async () => {
    fake.addBot(FAKE_TOKEN, { id: 987654321, username: 'switchboard_test_bot' });
    await fake.start();
    t = await startTestGateway({
      db,
      // Media by URL is fetched by the gateway (guarded); the test serves it from loopback.
      env: { TELEGRAM_API_ROOT: fake.url, PUBLIC_URL: PUBLIC, OUTBOUND_ALLOW_PRIVATE: 'true' },
    });
    headers = await createCompany(t, 'tgf-co');
  });

  afterAll(async () => {
    await t?.close({ keepDb: true });
    await fake.stop();
  });

  it('refuses a token Telegram rejects with 400 and writes nothing', async () => {
    const before = fake.callsOf('getMe').length;
    const res = await postInstance(t, headers, {
      company_id: 'tgf-co',
      provider: 'telegram',
      token: '111:AAbadTOKENbadTOKENbadTOKENbad',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('SB_ERR_PROVIDER_REJECTED');
    expect(res.json().error.message).toMatch(/rejected the bot token/);
    expect(res.body).not.toContain('AAbadTOKEN');
    expect(fake.callsOf('getMe').length).toBe(before + 1);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/instances', headers });
    expect(list.json().instances).toHaveLength(0);
    expect(await t.gw.store.events.listSince({ since: 0, limit: 100, company_id: 'tgf-co' })).toHaveLength(0);
  });

  it('refuses a malformed or missing token with 400 without calling Telegram', async () => {
    const before = fake.calls.length;
    const bad = await postInstance(t, headers, {
      company_id: 'tgf-co',
      provider: 'telegram',
      token: 'not-a-token',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('SB_ERR_PROVIDER_REJECTED');
    const missing = await postInstance(t, headers, { company_id: 'tgf-co', provider: 'telegram' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.code).toBe('SB_ERR_VALIDATION');
    expect(fake.calls.length).toBe(before);
  });

  it('sets a webhook with a secret token and accepts only updates that carry it', async () => {
    const res = await postInstance(t, headers, {
      company_id: 'tgf-co',
      provider: 'telegram',
      token: FAKE_TOKEN,
      settings: { parse_mode: 'HTML' },
    });
    expect(res.statusCode).toBe(201);
    id = res.json().instance.id;
    expect(res.json().instance).toMatchObject({
      auth_status: 'client_ready',
      account: '@switchboard_test_bot',
    });
    const hook = fake.webhooks.get(FAKE_TOKEN);
    expect(hook?.url).toBe(`${PUBLIC}/webhooks/telegram/${id}`);
    expect(hook?.secret).toBe(webhookSecret(FAKE_TOKEN, id));
    expect(hook?.secret).not.toContain(FAKE_TOKEN.split(':')[1]);

    const update = {
      update_id: 77,
      message: {
        message_id: 5,
        date: 1_700_000_000,
        chat: { id: -100200, type: 'supergroup', title: 'Team' },
        from: { id: 31, is_bot: false, first_name: 'Bea' },
        text: '/start now',
        entities: [{ type: 'bot_command', offset: 0, length: 6 }],
      },
    };
    const wrong = await t.app.inject({
      method: 'POST',
      url: `/webhooks/telegram/${id}`,
      headers: { 'x-telegram-bot-api-secret-token': 'nope' },
      payload: update,
    });
    expect(wrong.statusCode).toBe(401);
    const missing = await t.app.inject({ method: 'POST', url: `/webhooks/telegram/${id}`, payload: update });
    expect(missing.statusCode).toBe(401);
    const ok = await t.app.inject({
      method: 'POST',
      url: `/webhooks/telegram/${id}`,
      headers: { 'x-telegram-bot-api-secret-token': hook!.secret! },
      payload: update,
    });
    expect(ok.statusCode).toBe(200);
    // Telegram retries a webhook it thinks failed: the same update twice is stored once.
    const again = await t.app.inject({
      method: 'POST',
      url: `/webhooks/telegram/${id}`,
      headers: { 'x-telegram-bot-api-secret-token': hook!.secret! },
      payload: update,
    });
    expect(again.statusCode).toBe(200);
    const msgs = await t.app.inject({ method: 'GET', url: `/api/v1/instances/${id}/messages`, headers });
    expect(msgs.json().messages).toHaveLength(1);
    expect(msgs.json().messages[0]).toMatchObject({
      message_id: '-100200:5',
      chat_id: '-100200',
      type: 'command',
      body: '/start now',
      is_group: true,
      group_id: '-100200',
      contact_name: 'Bea',
    });
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/webhooks/telegram/00000000-0000-4000-8000-000000000000',
      headers: { 'x-telegram-bot-api-secret-token': hook!.secret! },
      payload: update,
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('sends text with the parse mode, a reply, base64 media as an upload and URL media by reference', async () => {
    const text = await postMessage(t, headers, id, {
      to: '-100200',
      text: '<b>hi</b>',
      reply_to: '-100200:5',
    });
    expect(text.statusCode, text.body).toBe(201);
    const sendMessage = fake.callsOf('sendMessage').at(-1)!;
    expect(sendMessage.fields).toMatchObject({
      chat_id: '-100200',
      text: '<b>hi</b>',
      parse_mode: 'HTML',
      reply_parameters: { message_id: 5 },
    });

    const photo = await postMessage(t, headers, id, {
      to: '-100200',
      media: { base64: PNG_1PX, mimetype: 'image/png', filename: 'dot.png', caption: 'a dot' },
    });
    expect(photo.statusCode, photo.body).toBe(201);
    const sendPhoto = fake.callsOf('sendPhoto').at(-1)!;
    expect(sendPhoto.fields).toMatchObject({ caption: 'a dot' });
    expect(String(sendPhoto.fields.chat_id)).toBe('-100200');
    expect(sendPhoto.files.photo).toMatchObject({
      name: 'dot.png',
      size: Buffer.from(PNG_1PX, 'base64').length,
    });

    const pdf = createHttpServer((_req, res) => res.end('%PDF-1.4 report'));
    await new Promise<void>((r) => pdf.listen(0, '127.0.0.1', r));
    const doc = await postMessage(t, headers, id, {
      to: '-100200',
      media: {
        url: `http://127.0.0.1:${(pdf.address() as AddressInfo).port}/report.pdf`,
        mimetype: 'application/pdf',
        filename: 'report.pdf',
      },
    });
    pdf.close();
    expect(doc.statusCode, doc.body).toBe(201);
    // Fetched by the gateway through the guarded fetch and uploaded: the Bot API never fetches a user's URL.
    expect(fake.callsOf('sendDocument').at(-1)!.files.document).toMatchObject({
      name: 'report.pdf',
      size: '%PDF-1.4 report'.length,
    });
    expect(doc.json().message).toMatchObject({ type: 'media', status: 'sent' });
  });

  it('sends a chat action through the session control', async () => {
    await t.gw.supervisor.control(id, 'chat_action', { to: '-100200', action: 'typing' });
    expect(fake.callsOf('sendChatAction').at(-1)!.fields).toMatchObject({
      chat_id: '-100200',
      action: 'typing',
    });
    await expect(
      t.gw.supervisor.control(id, 'chat_action', { to: 'x', action: 'typing' }),
    ).rejects.toMatchObject({
      code: 'SB_ERR_VALIDATION',
    });
  });

  it('stores inbound media metadata and serves the bytes on demand', async () => {
    const bytes = Buffer.from(PNG_1PX, 'base64');
    fake.files.set('PHOTO-FILE-1', bytes);
    const hook = fake.webhooks.get(FAKE_TOKEN)!;
    const res = await t.app.inject({
      method: 'POST',
      url: `/webhooks/telegram/${id}`,
      headers: { 'x-telegram-bot-api-secret-token': hook.secret! },
      payload: {
        update_id: 78,
        message: {
          message_id: 6,
          date: 1_700_000_010,
          chat: { id: 31, type: 'private', first_name: 'Bea' },
          from: { id: 31, is_bot: false, first_name: 'Bea' },
          caption: 'see',
          photo: [
            { file_id: 'PHOTO-FILE-1', file_unique_id: 'u1', width: 1, height: 1, file_size: bytes.length },
          ],
        },
      },
    });
    expect(res.statusCode).toBe(200);
    const msg = await t.gw.store.messages.getByMessageId(id, '31:6');
    expect(msg).toMatchObject({
      type: 'photo',
      body: 'see',
      media: { file_id: 'PHOTO-FILE-1', mimetype: 'image/jpeg' },
    });
    const media = await t.app.inject({
      method: 'GET',
      url: `/api/v1/instances/${id}/messages/31:6/media`,
      headers,
    });
    expect(media.statusCode, media.body).toBe(200);
    expect(media.headers['content-type']).toBe('image/jpeg');
    expect(media.rawPayload.equals(bytes)).toBe(true);
    expect(fake.callsOf('getFile').at(-1)!.fields).toMatchObject({ file_id: 'PHOTO-FILE-1' });
  });

  it('logout removes the webhook', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/api/v1/instances/${id}/logout`, headers });
    expect(res.statusCode).toBe(200);
    expect(res.json().instance.auth_status).toBe('logged_out');
    expect(fake.webhooks.has(FAKE_TOKEN)).toBe(false);
  });
});
