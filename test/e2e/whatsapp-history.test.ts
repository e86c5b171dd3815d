// End to end: history sync after a link — real gateway + real Baileys + the emulator's phone sending history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayEvent, Instance } from '../../src/domain/model.js';
import { WhatsAppEmulator } from '../emulators/whatsapp/emulator.js';
import type { HistoryChunkSpec } from '../emulators/whatsapp/history.js';
import { restoreWhatsAppTrust, trustEmulator } from '../emulators/whatsapp/trust.js';
import { eventProblems } from '../support/event-schemas.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const PHONE = '15550003333';
const FRIEND = '4915100000011';
const OTHER = '4915100000012';
const DAY = 86_400;

describe('whatsapp history sync against the emulator', () => {
  let emu: WhatsAppEmulator;
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';
  const nowS = Math.floor(Date.now() / 1000);
  // Two chunks as the phone sends them: the bootstrap (half way) and the recent chats (done).
  const history: HistoryChunkSpec[] = [
    {
      syncType: 'INITIAL_BOOTSTRAP',
      progress: 50,
      conversations: [
        {
          phone: FRIEND,
          name: 'Old Friend',
          messages: [
            { id: 'H-FRIEND-1', text: 'see you tomorrow', t: nowS - 2 * DAY },
            { id: 'H-FRIEND-2', text: 'sure, 10:00', fromMe: true, t: nowS - 2 * DAY + 60 },
            { id: 'H-FRIEND-OLD', text: 'a month ago', t: nowS - 30 * DAY },
          ],
        },
      ],
    },
    {
      syncType: 'RECENT',
      progress: 100,
      conversations: [{ phone: OTHER, messages: [{ id: 'H-OTHER-1', text: 'yesterday', t: nowS - DAY }] }],
    },
  ];

  const status = async (): Promise<Instance> => (await t.gw.store.instances.get(id))!;
  const events = async (type?: string): Promise<GatewayEvent[]> =>
    (await t.gw.store.events.listSince({ since: 0, limit: 10_000, instance_id: id })).filter(
      (e) => !type || e.type === type,
    );
  const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const messageIds = async (chat: string): Promise<string[]> => {
    const r = await api('GET', `/api/v1/instances/${id}/messages?chat_id=${chat}@s.whatsapp.net&limit=100`);
    expect(r.statusCode).toBe(200);
    return (r.json().messages as Array<{ message_id: string }>).map((m) => m.message_id).sort();
  };

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
    t = await startTestGateway({
      env: {
        WHATSAPP_WS_URL: emu.url,
        WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey.toString('base64'),
        WHATSAPP_HISTORY_DAYS: '7',
      },
    });
    headers = await createCompany(t, 'wa-history');
  });

  afterAll(async () => {
    await t?.close();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('a link brings the history: stored within the window, no message events, progress events', async () => {
    const res = await api('POST', '/api/v1/instances', { company_id: 'wa-history', provider: 'whatsapp' });
    expect(res.statusCode).toBe(201);
    id = res.json().instance.id;
    const qr = await eventually(async () => {
      const r = await api('GET', `/api/v1/instances/${id}/qr`);
      return r.statusCode === 200 ? (r.json().qr as string) : null;
    }, 15_000);
    await emu.scanQr(qr, { phone: PHONE, history });
    // Within the test's wait, far below Baileys' 20 s wait for a history that never comes.
    await eventually(async () => (await status()).auth_status === 'client_ready', 15_000);
    const synced = await eventually(async () => (await events('history.synced'))[0], 15_000);
    expect(synced.data).toMatchObject({ received: 4, stored: 3, duplicates: 0, too_old: 1 });
    const progress = await events('history.progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.data).toMatchObject({ progress: 100, complete: true });
    expect(progress.reduce((n, e) => n + (e.data.stored as number), 0)).toBe(3);

    expect(await messageIds(FRIEND)).toEqual(['H-FRIEND-1', 'H-FRIEND-2']);
    expect(await messageIds(OTHER)).toEqual(['H-OTHER-1']);
    const mine = await t.gw.store.messages.getByMessageId(id, 'H-FRIEND-2');
    expect(mine).toMatchObject({ is_from_me: true, body: 'sure, 10:00', from: `${PHONE}@s.whatsapp.net` });
    const theirs = await t.gw.store.messages.getByMessageId(id, 'H-FRIEND-1');
    expect(theirs).toMatchObject({ is_from_me: false, from: `${FRIEND}@s.whatsapp.net`, status: 'received' });
    expect(new Date(theirs!.timestamp).getTime()).toBe((nowS - 2 * DAY) * 1000);
    // History is not news: no `message` event (so no webhook, no agent call) for any of it.
    expect(await events('message')).toEqual([]);
    const chats = await api('GET', `/api/v1/instances/${id}/chats`);
    expect(chats.json().chats).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ chat_id: `${FRIEND}@s.whatsapp.net`, last_message_preview: 'sure, 10:00' }),
        expect.objectContaining({ chat_id: `${OTHER}@s.whatsapp.net`, unread_count: 0 }),
      ]),
    );
  });

  it('the same chunk again on a new connection (WhatsApp resends it) stores nothing twice', async () => {
    // A new socket (Baileys forgets, per socket, which history it has seen): the store must dedupe.
    const readyBefore = (await events('connected')).length;
    emu.injectStreamError(PHONE, 'restart_required');
    await eventually(async () => (await events('connected')).length > readyBefore, 15_000);
    const before = (await events('history.progress')).length;
    await emu.sendHistory(PHONE, { ...history[0]!, syncType: 'RECENT', progress: 100 });
    const ev = await eventually(async () => (await events('history.progress'))[before], 10_000);
    expect(ev.data).toMatchObject({ received: 3, stored: 0, duplicates: 2, too_old: 1 });
    expect(await messageIds(FRIEND)).toEqual(['H-FRIEND-1', 'H-FRIEND-2']);
    expect(await events('message')).toEqual([]);
  });

  it('a live message after the sync is a message event as always', async () => {
    const mid = await emu.deliverText({ toPhone: PHONE, fromPhone: FRIEND, text: 'live now' });
    const ev = await eventually(async () =>
      (await events('message')).find((e) => (e.data.message as { message_id: string }).message_id === mid),
    );
    expect((ev.data.message as { body: string }).body).toBe('live now');
    expect(await messageIds(FRIEND)).toEqual(['H-FRIEND-1', 'H-FRIEND-2', mid].sort());
  });

  it('a re-link (logout, new QR, the phone sends its history again) duplicates nothing', async () => {
    expect((await api('POST', `/api/v1/instances/${id}/logout`)).statusCode).toBe(200);
    await eventually(async () => (await status()).auth_status === 'logged_out', 10_000);
    const syncedBefore = (await events('history.synced')).length;
    expect((await api('POST', `/api/v1/instances/${id}/start`)).statusCode).toBe(200);
    const qr = await eventually(async () => {
      const r = await api('GET', `/api/v1/instances/${id}/qr`);
      return r.statusCode === 200 ? (r.json().qr as string) : null;
    }, 15_000);
    await emu.scanQr(qr, { phone: PHONE, history });
    const synced = await eventually(async () => (await events('history.synced'))[syncedBefore], 15_000);
    expect(synced.data).toMatchObject({ received: 4, stored: 0, duplicates: 3, too_old: 1 });
    expect(await messageIds(FRIEND)).toHaveLength(3); // the two from history and the live one, once each
    expect(await messageIds(OTHER)).toEqual(['H-OTHER-1']);
  });

  it("every event in the log matches its type's schema (src/domain/events.ts)", async () => {
    const log = await t.gw.store.events.listSince({ since: 0, limit: 10_000 });
    expect(log.some((e) => e.type === 'history.synced')).toBe(true);
    expect(log.flatMap(eventProblems)).toEqual([]);
  });
});
