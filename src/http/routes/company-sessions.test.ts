// Seed 003 company session API end to end: every endpoint, one session per company under concurrency, events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createCompany,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';

let t: TestGateway;
let acme: Record<string, string>;
let globex: Record<string, string>;
let acmeKey: string;

beforeAll(async () => {
  t = await startTestGateway({ listen: true, env: { SESSION_PROVIDER: 'simulator' } });
  acme = await createCompany(t, 'acme');
  globex = await createCompany(t, 'globex');
  await createCompany(t, 'initech');
  acmeKey = acme.authorization.replace('Bearer ', '');
});
afterAll(() => t?.close());

const call = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: unknown) =>
  t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

async function sessionInstances(company: string, headers: Record<string, string>) {
  const res = await call('GET', `/api/v1/instances?company_id=${company}`, headers);
  return res.json().instances as Array<{ id: string; name: string }>;
}

describe('seed 003 company session API', () => {
  it('initialize returns qr, qrDataUrl and qrTerminal, and reuses the one session', async () => {
    const res = await call('POST', '/api/whatsapp/sessions/acme/initialize', acme);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ success: true, companyId: 'acme', status: 'qr', connected: false });
    expect(body.qr).toMatch(/^2@/);
    expect(body.qrDataUrl).toMatch(/^data:image\/png;base64,/);
    expect(body.qrTerminal.length).toBeGreaterThan(50);
    const again = await call('POST', '/api/whatsapp/sessions/acme/initialize', acme);
    expect(again.json().status).toBe('qr');
    expect(await sessionInstances('acme', acme)).toHaveLength(1);
  });

  it('creates at most one instance per company under concurrent initialize calls', async () => {
    const all = await Promise.all(
      Array.from({ length: 12 }, () => call('POST', '/api/whatsapp/sessions/globex/initialize', globex)),
    );
    expect(all.map((r) => r.statusCode)).toEqual(Array(12).fill(200));
    expect(new Set(all.map((r) => r.json().qr)).size).toBe(1);
    expect(await sessionInstances('globex', globex)).toHaveLength(1);
  });

  it('status and health follow the login: 503 before the scan, 200 after', async () => {
    const before = await call('GET', '/api/whatsapp/sessions/acme/status', acme);
    expect(before.json()).toMatchObject({
      success: true,
      companyId: 'acme',
      connected: false,
      status: 'qr',
      reconnectAttempts: 0,
      health: { healthy: false, phoneNumber: null },
    });
    const sick = await call('GET', '/api/whatsapp/sessions/acme/health', acme);
    expect(sick.statusCode).toBe(503);
    expect(sick.json()).toMatchObject({ companyId: 'acme', healthy: false });

    const [inst] = await sessionInstances('acme', acme);
    const scan = await call('POST', `/api/v1/instances/${inst.id}/simulate/scan`, acme, {
      phone: '15550001111',
    });
    expect(scan.statusCode).toBe(200);
    await eventually(
      async () => (await call('GET', '/api/whatsapp/sessions/acme/health', acme)).statusCode === 200,
    );
    const healthy = await call('GET', '/api/whatsapp/sessions/acme/health', acme);
    expect(healthy.json()).toMatchObject({
      success: true,
      companyId: 'acme',
      healthy: true,
      phoneNumber: '15550001111@s.whatsapp.net',
    });
    const status = await call('GET', '/api/whatsapp/sessions/acme/status', acme);
    expect(status.json()).toMatchObject({ connected: true, status: 'connected', health: { healthy: true } });
    const init = await call('POST', '/api/whatsapp/sessions/acme/initialize', acme);
    expect(init.json()).toMatchObject({ success: true, connected: true, status: 'connected' });

    // A drop and recovery counts one reconnect attempt until the session is ready again.
    await call('POST', `/api/v1/instances/${inst.id}/simulate/drop`, acme, {});
    const after = await call('GET', '/api/whatsapp/sessions/acme/status', acme);
    expect(after.json().connected).toBe(true);
  });

  it('sends with the phone normalised, the quote passed on, and validation errors as 400', async () => {
    const res = await call('POST', '/api/whatsapp/sessions/acme/send', acme, {
      phone: '+7 (900) 123-45-67',
      message: 'Ваша запись подтверждена!',
    });
    expect(res.statusCode).toBe(200);
    const sent = res.json();
    expect(sent).toMatchObject({ success: true, companyId: 'acme', phone: '79001234567' });
    expect(sent.messageId).toMatch(/^SIM/);
    expect(Number.isNaN(Date.parse(sent.timestamp))).toBe(false);

    const reply = await call('POST', '/api/whatsapp/sessions/acme/send', acme, {
      phone: '79001234567',
      message: 'reply',
      options: { quoted: sent.messageId },
    });
    expect(reply.statusCode).toBe(200);
    const [inst] = await sessionInstances('acme', acme);
    const msgs = await call(
      'GET',
      `/api/v1/instances/${inst.id}/messages?chat_id=79001234567@s.whatsapp.net`,
      acme,
    );
    expect(msgs.json().messages.find((m: { body: string }) => m.body === 'reply').reply_to).toBe(
      sent.messageId,
    );

    for (const bad of [
      { phone: '12', message: 'x' },
      { phone: '79001234567', message: 'x'.repeat(4097) },
      { phone: '79001234567', message: '' },
      { phone: '79001234567', message: 'x', extra: true },
    ]) {
      const r = await call('POST', '/api/whatsapp/sessions/acme/send', acme, bad);
      expect(r.statusCode, JSON.stringify(bad).slice(0, 60)).toBe(400);
      expect(r.json().error.code).toBe('SB_ERR_VALIDATION');
    }
    const none = await call('POST', '/api/whatsapp/sessions/initech/send', t.admin, {
      phone: '79001234567',
      message: 'x',
    });
    expect(none.statusCode).toBe(409);
    expect(none.json().error.code).toBe('SB_ERR_NOT_CONNECTED');
  });

  it('lists sessions and metrics per caller; foreign companies are 404', async () => {
    const own = await call('GET', '/api/whatsapp/sessions', acme);
    expect(own.json()).toMatchObject({
      success: true,
      count: 1,
      sessions: [{ companyId: 'acme', connected: true, status: 'connected', health: 'healthy' }],
    });
    expect(own.json().metrics.messagesSent).toBeGreaterThanOrEqual(2);
    const all = await call('GET', '/api/whatsapp/sessions', t.admin);
    expect(all.json().count).toBe(2);
    expect(all.json().metrics).toMatchObject({ totalSessions: 2, activeConnections: 1 });

    const m = await call('GET', '/api/whatsapp/metrics', t.admin);
    expect(m.statusCode).toBe(200);
    const metrics = m.json().metrics;
    for (const k of [
      'totalSessions',
      'activeConnections',
      'failedReconnects',
      'messagesSent',
      'messagesReceived',
      'qrCodesGenerated',
      'errors',
    ]) {
      expect(typeof metrics[k], k).toBe('number');
    }
    expect(metrics.qrCodesGenerated).toBeGreaterThanOrEqual(2);
    expect(m.json().sessions).toEqual({ total: 2, connected: 1, disconnected: 1 });
    expect(m.json().pool).toMatchObject({ enabled: false });

    const prom = await call('GET', '/api/whatsapp/metrics/prometheus', acme);
    expect(prom.headers['content-type']).toMatch(/^text\/plain/);
    expect(prom.body).toMatch(/^whatsapp_sessions_total 1$/m);
    expect(prom.body).toMatch(/^whatsapp_active_connections 1$/m);

    for (const url of [
      '/api/whatsapp/sessions/globex/status',
      '/api/whatsapp/sessions/globex/health',
      '/api/whatsapp/sessions/globex/initialize',
    ]) {
      const r = await call(url.endsWith('initialize') ? 'POST' : 'GET', url, acme);
      expect(r.statusCode, url).toBe(404);
    }
    const bad = await call('GET', '/api/whatsapp/sessions/bad%20id/status', acme);
    expect(bad.statusCode).toBe(400);
    const anon = await call('GET', '/api/whatsapp/sessions', {});
    expect(anon.statusCode).toBe(401);
  });

  it('a signed-in user of the company may use its session', async () => {
    await call('POST', '/api/v1/companies/acme/users', acme, {
      email: 'op@acme.test',
      password: 'operator password',
    });
    const login = await call(
      'POST',
      '/api/auth/login',
      {},
      { email: 'op@acme.test', password: 'operator password' },
    );
    const user = { authorization: `Bearer ${login.json().token}` };
    const status = await call('GET', '/api/whatsapp/sessions/acme/status', user);
    expect(status.json().connected).toBe(true);
    const foreign = await call('GET', '/api/whatsapp/sessions/globex/status', user);
    expect(foreign.statusCode).toBe(404);
  });

  it('streams events over WebSocket in seed 003 shape, only the caller’s company', async () => {
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/whatsapp/events?api_key=${acmeKey}&since=0`);
    const events: Array<Record<string, any>> = [];
    ws.on('message', (d) => events.push(JSON.parse(String(d))));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const qr = await eventually(() => events.find((e) => e.type === 'qr'));
    expect(qr.qr).toMatch(/^2@/);
    expect(qr.companyId).toBe('acme');
    const connected = await eventually(() => events.find((e) => e.type === 'connected'));
    expect(connected.phoneNumber).toBe('15550001111@s.whatsapp.net');
    const [inst] = await sessionInstances('acme', acme);
    await call('POST', `/api/v1/instances/${inst.id}/simulate/inbound`, acme, {
      from: '79001234567',
      text: 'hi there',
    });
    const msg = await eventually(() =>
      events.find((e) => e.type === 'message' && e.message.body === 'hi there'),
    );
    expect(msg.companyId).toBe('acme');
    expect(events.every((e) => e.companyId === 'acme')).toBe(true);
    ws.close();
    const refused = new WebSocket(
      `${t.url.replace('http', 'ws')}/api/whatsapp/events?api_key=${acmeKey}&company_id=globex`,
    );
    const status = await new Promise<number>((resolve) => {
      refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      refused.once('open', () => resolve(101));
      refused.once('error', () => {});
    });
    refused.terminate();
    expect(status).toBe(404);
  });
});
