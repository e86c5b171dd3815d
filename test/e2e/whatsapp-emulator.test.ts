// End to end: the real gateway + the real Baileys (whatsapp provider) + the local WhatsApp server emulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayEvent, Instance } from '../../src/domain/model.js';
import { rawSql } from '../../src/storage/sql-store.js';
import { WhatsAppEmulator } from '../emulators/whatsapp/emulator.js';
import { restoreWhatsAppTrust, trustEmulator } from '../emulators/whatsapp/trust.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const PHONE = '15550002222';
const ACCOUNT = `${PHONE}@s.whatsapp.net`;
const CONTACT = '4915112345678';

describe('whatsapp provider with real Baileys against the emulator', () => {
  let emu: WhatsAppEmulator;
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';
  let env: Record<string, string>;

  const status = async (): Promise<Instance> => (await t.gw.store.instances.get(id))!;
  const events = async (type?: string): Promise<GatewayEvent[]> =>
    (await t.gw.store.events.listSince({ since: 0, limit: 10_000, instance_id: id })).filter(
      (e) => !type || e.type === type,
    );
  const ready = () => eventually(async () => (await status()).auth_status === 'client_ready', 15_000);
  const api = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
    env = {
      WHATSAPP_WS_URL: emu.url,
      WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey.toString('base64'),
      // Short enough for the health-check test, long enough (ping timeout = interval) for a busy machine.
      HEALTH_CHECK_INTERVAL_MS: '3000',
    };
    t = await startTestGateway({ env });
    headers = await createCompany(t, 'wa-e2e');
  });

  afterAll(async () => {
    await t?.close();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('QR through our API, scan at the emulator → client_ready with the account phone', async () => {
    const res = await api('POST', '/api/v1/instances', { company_id: 'wa-e2e', provider: 'whatsapp' });
    expect(res.statusCode).toBe(201);
    id = res.json().instance.id;
    const qr = await eventually(async () => {
      const r = await api('GET', `/api/v1/instances/${id}/qr`);
      return r.statusCode === 200 ? (r.json().qr as string) : null;
    }, 15_000);
    expect((await events('qr')).length).toBeGreaterThan(0);
    await emu.scanQr(qr, { phone: PHONE });
    await ready();
    expect((await status()).account).toBe(ACCOUNT);
    // the scan is reported as authenticated first, then the 515 restart ends in client_ready
    const auths = (await events('instance.status')).map((e) => e.data.auth_status);
    expect(auths.indexOf('authenticated')).toBeGreaterThan(-1);
    expect(auths.indexOf('authenticated')).toBeLessThan(auths.indexOf('client_ready'));
    const connected = await eventually(async () => (await events('connected'))[0]);
    expect(connected.data).toMatchObject({ account: ACCOUNT, phone: `+${PHONE}` });
    expect(emu.liveConnections(PHONE)).toBe(1);
    const creds = await rawSql(t.gw.store).sql.query(
      `SELECT count(*)::int AS n FROM ${rawSql(t.gw.store).qschema}.whatsapp_auth WHERE instance_id = $1`,
      [id],
    );
    expect(creds[0]!.n).toBe(1);
  });

  it('sends a text through our API that the contact decrypts; receipts move it to delivered and read', async () => {
    const res = await api('POST', `/api/v1/instances/${id}/messages`, {
      to: `+${CONTACT}`,
      text: 'hello contact',
    });
    expect(res.statusCode).toBe(201);
    const msg = res.json().message;
    expect(msg.status).toBe('sent');
    const got = await eventually(() => emu.sentMessages(PHONE).find((m) => m.id === msg.message_id));
    expect(got).toMatchObject({ toPhone: CONTACT, text: 'hello contact' });
    expect(got.error).toBeUndefined();
    emu.sendReceipt({ accountPhone: PHONE, messageId: msg.message_id, type: 'delivered' });
    await eventually(async () => (await t.gw.store.messages.get(id, msg.id))?.status === 'delivered');
    emu.sendReceipt({ accountPhone: PHONE, messageId: msg.message_id, type: 'read' });
    await eventually(async () => (await t.gw.store.messages.get(id, msg.id))?.status === 'read');
    const acks = (await events('message.ack')).map((e) => e.data.status);
    expect(acks).toEqual(['delivered', 'read']);
  });

  it('stores and emits an inbound text with the sender phone', async () => {
    const mid = await emu.deliverText({
      toPhone: PHONE,
      fromPhone: CONTACT,
      text: 'hi gateway',
      pushName: 'Anna',
    });
    const stored = await eventually(() => t.gw.store.messages.getByMessageId(id, mid));
    expect(stored).toMatchObject({
      chat_id: `${CONTACT}@s.whatsapp.net`,
      from: `${CONTACT}@s.whatsapp.net`,
      body: 'hi gateway',
      is_from_me: false,
      status: 'received',
    });
    const ev = await eventually(async () =>
      (await events('message')).find((e) => (e.data.message as { message_id: string }).message_id === mid),
    );
    expect((ev.data.message as { body: string }).body).toBe('hi gateway');
    const contacts = await api('GET', `/api/v1/instances/${id}/contacts`);
    expect(contacts.json().contacts).toEqual(
      expect.arrayContaining([expect.objectContaining({ phone: `+${CONTACT}` })]),
    );
  });

  it('515 restart required → reconnects at once and is ready again', async () => {
    const before = (await events('instance.status')).length;
    emu.injectStreamError(PHONE, 'restart_required');
    await eventually(
      async () =>
        (await events('instance.status')).slice(before).some((e) => e.data.auth_status === 'client_ready'),
      15_000,
    );
    await eventually(() => emu.liveConnections(PHONE) === 1);
  });

  it('a silent socket is restarted by the health check', async () => {
    emu.setSilent(PHONE, true);
    await eventually(async () => (await events('health_check_failed')).length > 0, 15_000);
    emu.setSilent(PHONE, false);
    await ready();
    await eventually(() => emu.liveConnections(PHONE) === 1, 15_000);
  });

  it('gateway restart logs in again from the credentials in the database, without a QR', async () => {
    const qrsBefore = (await events('qr')).length;
    await t.close({ keepDb: true });
    await eventually(() => emu.liveConnections(PHONE) === 0);
    t = await startTestGateway({ env, db: t.db });
    expect(await t.gw.supervisor.resumeDesired()).toBe(1);
    await ready();
    expect((await status()).account).toBe(ACCOUNT);
    expect((await events('qr')).length).toBe(qrsBefore);
    await eventually(() => emu.liveConnections(PHONE) === 1);
    // and it still sends
    const res = await api('POST', `/api/v1/instances/${id}/messages`, {
      to: `+${CONTACT}`,
      text: 'after restart',
    });
    expect(res.statusCode).toBe(201);
    await eventually(() => emu.sentMessages(PHONE).find((m) => m.text === 'after restart'));
  });

  it('440 connection replaced → at most one retry, then no reconnect fight', async () => {
    const before = (await events('instance.status')).length;
    emu.injectStreamError(PHONE, 'conflict');
    // the single retry reconnects
    await eventually(async () => {
      const after = (await events('instance.status')).slice(before).map((e) => e.data.auth_status);
      return (
        after.includes('reconnecting') && after.at(-1) === 'client_ready' && emu.liveConnections(PHONE) === 1
      );
    }, 15_000);
    emu.injectStreamError(PHONE, 'conflict');
    await eventually(async () => (await status()).auth_status === 'disconnected', 15_000);
    expect((await events('error')).some((e) => e.data.code === 'connection_replaced')).toBe(true);
    // nothing reconnects behind our back: wait past the retry delay and look again
    await new Promise((r) => setTimeout(r, 2500));
    expect(emu.liveConnections(PHONE)).toBe(0);
    expect((await status()).auth_status).toBe('disconnected');
    // an operator restart brings it back
    const res = await api('POST', `/api/v1/instances/${id}/restart`);
    expect(res.statusCode).toBe(200);
    await ready();
    await eventually(() => emu.liveConnections(PHONE) === 1);
  });

  it('401 device removed → logged_out, logout event, credentials wiped, no reconnect', async () => {
    emu.injectStreamError(PHONE, 'device_removed');
    await eventually(async () => (await status()).auth_status === 'logged_out', 15_000);
    const logout = await eventually(async () => (await events('logout'))[0]);
    expect(logout.data).toMatchObject({ account: ACCOUNT });
    const q = (table: string) =>
      rawSql(t.gw.store).sql.query(
        `SELECT count(*)::int AS n FROM ${rawSql(t.gw.store).qschema}.${table} WHERE instance_id = $1`,
        [id],
      );
    expect((await q('whatsapp_auth'))[0]!.n).toBe(0);
    expect((await q('whatsapp_keys'))[0]!.n).toBe(0);
    expect(t.gw.supervisor.has(id)).toBe(false);
    expect(emu.liveConnections(PHONE)).toBe(0);
    // no credentials left: a new start asks for a QR again
    await api('POST', `/api/v1/instances/${id}/start`);
    await eventually(async () => (await status()).auth_status === 'qr_ready', 15_000);
  });

  it("the emulator's own handlers never failed during the flows above (faults are recorded, not dropped)", () => {
    expect(emu.faults).toEqual([]);
  });
});
