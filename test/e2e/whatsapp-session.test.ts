// End to end: the truth about a WhatsApp session — silent socket, offline messages, decrypt failures (real Baileys).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayEvent, Instance } from '../../src/domain/model.js';
import { WhatsAppEmulator } from '../emulators/whatsapp/emulator.js';
import { restoreWhatsAppTrust, trustEmulator } from '../emulators/whatsapp/trust.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const PHONE = '15550004444';
const CONTACT = '4915100000021';
/** Short so the test is quick; Baileys' own keep-alive stays at 30 s, so only the probe can notice in time. */
const HEALTH_MS = 4000;

describe('whatsapp session truth against the emulator', () => {
  let emu: WhatsAppEmulator;
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';
  let recovered = '';

  const status = async (): Promise<Instance> => (await t.gw.store.instances.get(id))!;
  const events = async (type?: string): Promise<GatewayEvent[]> =>
    (await t.gw.store.events.listSince({ since: 0, limit: 10_000, instance_id: id })).filter(
      (e) => !type || e.type === type,
    );
  const ready = () => eventually(async () => (await status()).auth_status === 'client_ready', 15_000);
  const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const metric = async (line: string): Promise<number> => {
    const text = (await t.app.inject({ url: '/metrics', headers: t.admin })).body;
    const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
    return hit ? Number(hit.slice(line.length + 1)) : 0;
  };

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
    t = await startTestGateway({
      env: {
        WHATSAPP_WS_URL: emu.url,
        WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey.toString('base64'),
        HEALTH_CHECK_INTERVAL_MS: String(HEALTH_MS),
        WHATSAPP_DECRYPT_RETRY_MS: '1500',
      },
    });
    headers = await createCompany(t, 'wa-session');
    const res = await api('POST', '/api/v1/instances', { company_id: 'wa-session', provider: 'whatsapp' });
    id = res.json().instance.id;
    const qr = await eventually(async () => {
      const r = await api('GET', `/api/v1/instances/${id}/qr`);
      return r.statusCode === 200 ? (r.json().qr as string) : null;
    }, 15_000);
    await emu.scanQr(qr, { phone: PHONE });
    await ready();
    // The first login's (empty) history sync is done: later logins do not wait for one (Baileys' accountSyncCounter).
    await eventually(async () => (await events('history.synced')).length > 0, 15_000);
  });

  afterAll(async () => {
    await t?.close();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('a socket that stays open but answers nothing: off client_ready, reconnect without a QR, counted', async () => {
    const failedMetric = 'switchboard_events_total{type="health_check_failed"}';
    const metricBefore = await metric(failedMetric);
    const qrsBefore = (await events('qr')).length;
    const statusesBefore = (await events('instance.status')).length;
    expect(emu.silenceLiveConnections(PHONE)).toBe(1);
    const failed = await eventually(async () => (await events('health_check_failed'))[0], 15_000);
    expect(failed.data.reason).toMatch(/^no answer to a ping within \d+ ms$/);
    // how long the socket had been silent when the probe gave up (reported; the bench/notes record the figure)
    expect(failed.data.since_answer_ms).toEqual(expect.any(Number));
    const after = await eventually(async () => {
      const list = (await events('instance.status')).slice(statusesBefore).map((e) => e.data.auth_status);
      return list.includes('client_ready') ? list : null;
    }, 15_000);
    expect(after).toEqual(['reconnecting', 'client_ready']);
    expect((await events('qr')).length).toBe(qrsBefore);
    await eventually(() => emu.liveConnections(PHONE) === 1); // the silent socket was closed by the gateway
    expect(await metric(failedMetric)).toBe(metricBefore + 1);
    // and it works: a message in and one out
    const mid = await emu.deliverText({ toPhone: PHONE, fromPhone: CONTACT, text: 'still there?' });
    await eventually(() => t.gw.store.messages.getByMessageId(id, mid));
    const sent = await api('POST', `/api/v1/instances/${id}/messages`, { to: `+${CONTACT}`, text: 'yes' });
    expect(sent.statusCode).toBe(201);
    await eventually(() => emu.sentMessages(PHONE).find((m) => m.text === 'yes'));
  });

  it('messages sent while the device was offline are delivered at login and stored, none lost', async () => {
    expect((await api('POST', `/api/v1/instances/${id}/stop`)).statusCode).toBe(200);
    await eventually(() => emu.liveConnections(PHONE) === 0, 10_000);
    const ids: string[] = [];
    for (const text of ['offline one', 'offline two', 'offline three'])
      ids.push(await emu.deliverText({ toPhone: PHONE, fromPhone: CONTACT, text }));
    expect((await api('POST', `/api/v1/instances/${id}/start`)).statusCode).toBe(200);
    await ready();
    const stored = await eventually(async () => {
      const all = await Promise.all(ids.map((m) => t.gw.store.messages.getByMessageId(id, m)));
      return all.every(Boolean) ? all : null;
    }, 15_000);
    expect(stored.map((m) => m!.body)).toEqual(['offline one', 'offline two', 'offline three']);
    const published = (await events('message')).map(
      (e) => (e.data.message as { message_id: string }).message_id,
    );
    for (const m of ids) expect(published.filter((p) => p === m)).toHaveLength(1);
  });

  it('a message that fails to decrypt is retried (retry receipt) and stored once the sender re-sends it', async () => {
    const mid = await emu.deliverUndecryptable({
      toPhone: PHONE,
      fromPhone: CONTACT,
      text: 'second time lucky',
      mode: 'recover',
    });
    const stored = await eventually(() => t.gw.store.messages.getByMessageId(id, mid), 10_000);
    expect(stored).toMatchObject({ body: 'second time lucky', from: `${CONTACT}@s.whatsapp.net` });
    expect(emu.retryReceipts(mid)).toBe(1);
    recovered = mid; // the next test shows that its retry window passed without a failure report
  });

  it('a message that stays undecryptable is surfaced as message.decrypt_failed, never silently missing', async () => {
    const other = '4915100000022';
    const first = await emu.deliverText({ toPhone: PHONE, fromPhone: other, text: 'hello first' });
    await eventually(() => t.gw.store.messages.getByMessageId(id, first));
    const mid = await emu.deliverUndecryptable({
      toPhone: PHONE,
      fromPhone: other,
      text: 'lost',
      mode: 'never',
    });
    const failed = await eventually(async () => (await events('message.decrypt_failed'))[0], 15_000);
    // Only this one: the recovered message's window (shorter, and started earlier) ended without a report.
    expect((await events('message.decrypt_failed')).map((e) => e.data.message_id)).toEqual([mid]);
    expect(recovered).not.toBe('');
    expect(failed.data).toMatchObject({ message_id: mid, chat_id: `${other}@s.whatsapp.net` });
    expect(failed.data.attempts).toBeGreaterThan(1);
    expect(emu.retryReceipts(mid)).toBeGreaterThan(0);
    expect(failed.data.error).toEqual(expect.any(String));
    expect(await t.gw.store.messages.getByMessageId(id, mid)).toBeNull();
    const text = (await t.app.inject({ url: '/metrics', headers: t.admin })).body;
    expect(text).toContain('switchboard_events_total{type="message.decrypt_failed"} 1');
  });
});
