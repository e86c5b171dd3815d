// The whole instance lifecycle on the simulator through the HTTP API, including restart survival.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb } from '../../../test/support/db.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';

describe('instance lifecycle on the simulator', () => {
  let t: TestGateway;
  let acme: Record<string, string>;

  beforeAll(async () => {
    t = await startTestGateway();
    acme = await createCompany(t, 'acme');
  });
  afterAll(async () => t?.close());

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, headers = acme) =>
    t.app.inject({ method, url, headers, payload });

  it('goes from creation to QR to connected, sends, receives, stops, logs out and deletes', async () => {
    const created = await call('POST', '/api/v1/instances', {
      company_id: 'acme',
      provider: 'simulator',
      name: 'Front desk',
    });
    expect(created.statusCode).toBe(201);
    const { instance, api_key } = created.json();
    expect(api_key).toMatch(/^sb_inst_[A-Za-z0-9_-]{40,}$/);
    expect(instance).toMatchObject({
      status: 'running',
      auth_status: 'qr_ready',
      has_qr: true,
      name: 'Front desk',
    });
    const id = instance.id as string;

    const raw = await call('GET', `/api/v1/instances/${id}/qr`);
    expect(raw.statusCode).toBe(200);
    expect(raw.json().qr).toContain(id);
    const dataurl = await call('GET', `/api/v1/instances/${id}/qr?format=dataurl`);
    expect(dataurl.json().dataUrl).toMatch(/^data:image\/png;base64,/);
    const png = await call('GET', `/api/v1/instances/${id}/qr?format=png`);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(1, 4).toString()).toBe('PNG');
    const term = await call('GET', `/api/v1/instances/${id}/qr?format=terminal`);
    expect(term.body.length).toBeGreaterThan(100);

    const scan = await call('POST', `/api/v1/instances/${id}/simulate/scan`, { phone: '+4915112345678' });
    expect(scan.statusCode).toBe(200);
    const got = (await call('GET', `/api/v1/instances/${id}`)).json().instance;
    expect(got).toMatchObject({
      status: 'running',
      auth_status: 'client_ready',
      account: '4915112345678@s.whatsapp.net',
      has_qr: false,
    });
    const noQr = await call('GET', `/api/v1/instances/${id}/qr`);
    expect(noQr.statusCode).toBe(409);
    expect(noQr.json().error.code).toBe('SB_ERR_NO_QR');

    // The instance key works for its own instance.
    const own = await call('GET', `/api/v1/instances/${id}/status`, undefined, { 'x-api-key': api_key });
    expect(own.json()).toMatchObject({ connected: true, auth_status: 'client_ready' });

    const sent = await call('POST', `/api/v1/instances/${id}/messages`, {
      to: '+1 415 555 2671',
      text: 'Hello',
    });
    expect(sent.statusCode).toBe(201);
    const msg = sent.json().message;
    expect(msg).toMatchObject({
      chat_id: '14155552671@s.whatsapp.net',
      status: 'sent',
      is_from_me: true,
      body: 'Hello',
    });
    await eventually(
      async () =>
        (await call('GET', `/api/v1/instances/${id}/messages/${msg.id}`)).json().message.status === 'read',
    );

    const inbound = await call('POST', `/api/v1/instances/${id}/simulate/inbound`, {
      from: '14155552671',
      text: 'Hi back',
      name: 'Jane',
    });
    expect(inbound.statusCode).toBe(200);
    // Stored before the 2xx: readable at once.
    const list = (
      await call('GET', `/api/v1/instances/${id}/messages?chat_id=14155552671@s.whatsapp.net`)
    ).json();
    expect(list.messages.map((m: { body: string }) => m.body)).toEqual(['Hi back', 'Hello']);
    const chats = (await call('GET', `/api/v1/instances/${id}/chats`)).json().chats;
    expect(chats).toHaveLength(1);
    expect(chats[0]).toMatchObject({
      chat_id: '14155552671@s.whatsapp.net',
      unread_count: 1,
      last_message_preview: 'Hi back',
    });
    const contacts = (await call('GET', `/api/v1/instances/${id}/contacts?query=jane`)).json().contacts;
    expect(contacts).toEqual([expect.objectContaining({ name: 'Jane', phone: '+14155552671' })]);

    const stopped = (await call('POST', `/api/v1/instances/${id}/stop`)).json().instance;
    expect(stopped).toMatchObject({
      status: 'stopped',
      desired_state: 'stopped',
      auth_status: 'disconnected',
    });
    const notConnected = await call('POST', `/api/v1/instances/${id}/messages`, {
      to: '14155552671',
      text: 'x',
    });
    expect(notConnected.statusCode).toBe(409);
    expect(notConnected.json().error.code).toBe('SB_ERR_NOT_CONNECTED');

    // Saved credentials: starting again logs in without a new QR.
    const started = (await call('POST', `/api/v1/instances/${id}/start`)).json().instance;
    expect(started.status).toBe('running');
    await eventually(
      async () =>
        (await call('GET', `/api/v1/instances/${id}`)).json().instance.auth_status === 'client_ready',
    );

    const restarted = await call('POST', `/api/v1/instances/${id}/restart`);
    expect(restarted.statusCode).toBe(200);
    expect(t.network.maxConcurrent).toBe(1);

    const out = (await call('POST', `/api/v1/instances/${id}/logout`)).json().instance;
    expect(out).toMatchObject({ status: 'stopped', auth_status: 'logged_out', account: null });
    const again = (await call('POST', `/api/v1/instances/${id}/start`)).json().instance;
    expect(again.auth_status).toBe('qr_ready');

    const rotated = await call('POST', `/api/v1/instances/${id}/keys/rotate`);
    const newKey = rotated.json().api_key;
    expect(
      (await call('GET', `/api/v1/instances/${id}`, undefined, { 'x-api-key': api_key })).statusCode,
    ).toBe(401);
    expect(
      (await call('GET', `/api/v1/instances/${id}`, undefined, { 'x-api-key': newKey })).statusCode,
    ).toBe(200);

    expect((await call('DELETE', `/api/v1/instances/${id}`)).statusCode).toBe(200);
    expect((await call('GET', `/api/v1/instances/${id}`)).statusCode).toBe(404);
    expect(t.network.live.size).toBe(0);
  });

  it('records the remote logout and the dropped connection', async () => {
    const { id } = await createConnectedInstance(t, acme, 'acme', '15550009999');
    expect((await call('POST', `/api/v1/instances/${id}/simulate/drop`)).json()).toEqual({
      reconnected: true,
    });
    const types = async () =>
      (await t.gw.store.events.listSince({ since: 0, limit: 1000, instance_id: id })).map((e) => [
        e.type,
        e.data.auth_status,
      ]);
    expect(await types()).toContainEqual(['instance.status', 'reconnecting']);
    await call('POST', `/api/v1/instances/${id}/simulate/logout`);
    const inst = (await call('GET', `/api/v1/instances/${id}`)).json().instance;
    expect(inst).toMatchObject({ auth_status: 'logged_out', status: 'stopped', desired_state: 'stopped' });
    expect((await types()).map(([type]) => type)).toContain('logout');
  });

  it('accepts user_id as a deprecated alias and says so', async () => {
    const res = await call('POST', '/api/v1/instances', {
      user_id: 'acme',
      provider: 'simulator',
      type_instance: ['api'],
      start: false,
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().instance).toMatchObject({ company_id: 'acme', status: 'created' });
    expect(res.json().warnings[0]).toContain('user_id is deprecated');
  });

  it('answers an idempotent send once', async () => {
    const { id } = await createConnectedInstance(t, acme, 'acme');
    const headers = { ...acme, 'idempotency-key': 'order-42' };
    const a = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/messages`,
      headers,
      payload: { to: '14155552671', text: 'once' },
    });
    const b = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/messages`,
      headers,
      payload: { to: '14155552671', text: 'once' },
    });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(200);
    expect(b.json().message.id).toBe(a.json().message.id);
    expect(b.json().replayed).toBe(true);
    const c = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/messages`,
      headers,
      payload: { to: '14155552671', text: 'other' },
    });
    expect(c.statusCode).toBe(409);
    expect(c.json().error.code).toBe('SB_ERR_IDEMPOTENCY_CONFLICT');
    expect(await t.gw.store.messages.count(id)).toBe(1);
  });

  it('lists instances with filters and pagination', async () => {
    const all = (await call('GET', '/api/v1/instances?company_id=acme&limit=1')).json();
    expect(all.instances).toHaveLength(1);
    expect(all.next_cursor).toBeTruthy();
    const next = (
      await call('GET', `/api/v1/instances?company_id=acme&limit=1&cursor=${all.next_cursor}`)
    ).json();
    expect(next.instances[0].id).not.toBe(all.instances[0].id);
    const created = (await call('GET', '/api/v1/instances?status=created')).json().instances;
    expect(created.every((i: { status: string }) => i.status === 'created')).toBe(true);
    expect((await call('GET', '/api/v1/instances?cursor=garbage')).statusCode).toBe(400);
  });
});

describe('restart survival', () => {
  it('keeps data and desired state across a gateway restart, logging in again without a QR', async () => {
    const db = await openTestDb();
    const first = await startTestGateway({ db });
    const acme = await createCompany(first, 'acme');
    const { id, account } = await createConnectedInstance(first, acme, 'acme', '15557654321');
    const stopped = await createConnectedInstance(first, acme, 'acme', '15557654322');
    await first.app.inject({ method: 'POST', url: `/api/v1/instances/${stopped.id}/stop`, headers: acme });
    await first.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/simulate/inbound`,
      headers: acme,
      payload: { from: '14155552671', text: 'before restart' },
    });
    await first.close({ keepDb: true });

    const second = await startTestGateway({ db });
    try {
      expect(await second.gw.supervisor.resumeDesired()).toBe(1);
      const inst = (
        await second.app.inject({ method: 'GET', url: `/api/v1/instances/${id}`, headers: acme })
      ).json().instance;
      expect(inst).toMatchObject({ status: 'running', auth_status: 'client_ready', account });
      const other = (
        await second.app.inject({ method: 'GET', url: `/api/v1/instances/${stopped.id}`, headers: acme })
      ).json();
      expect(other.instance.status).toBe('stopped');
      const msgs = (
        await second.app.inject({ method: 'GET', url: `/api/v1/instances/${id}/messages`, headers: acme })
      ).json();
      expect(msgs.messages.map((m: { body: string }) => m.body)).toContain('before restart');
    } finally {
      await second.close();
    }
  });
});

describe('acks that overtake their send', () => {
  it('applies an ack that arrives before the send recorded the message id', async () => {
    const t = await startTestGateway({ env: { SIMULATOR_ACK_DELAY_MS: '0' } });
    try {
      const acme = await createCompany(t, 'acme');
      const { id } = await createConnectedInstance(t, acme, 'acme');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await t.app.inject({
          method: 'POST',
          url: `/api/v1/instances/${id}/messages`,
          headers: acme,
          payload: { to: '14155552671', text: `fast ${i}` },
        });
        ids.push(res.json().message.id);
      }
      for (const mid of ids) {
        await eventually(async () => (await t.gw.store.messages.get(id, mid))?.status === 'read');
      }
      const stashed = await t.db.driver.query(`SELECT count(*)::int AS n FROM "${t.db.schema}".pending_acks`);
      expect(stashed[0].n).toBe(0);
    } finally {
      await t.close();
    }
  });
});
