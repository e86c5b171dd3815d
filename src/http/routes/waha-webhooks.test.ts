// WAHA webhooks without an HMAC key: the per-instance token WAHA echoes, and seed 004's global POST /webhook.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WahaEmulator } from '../../../test/emulators/waha/waha-emulator.js';
import {
  createCompany,
  eventually,
  postInstance,
  postMessage,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { freePort } from '../../../test/support/net.js';
import { instanceIdOfWahaSession, wahaSessionName } from '../../core/waha-identity.js';

const TOKEN = 'x-switchboard-webhook-token';

describe('WAHA webhooks authenticated by the per-instance token', () => {
  const emu = new WahaEmulator();
  let t: TestGateway;
  let headers: Record<string, string>;
  let id = '';
  let other = '';
  let session = '';
  const tokenOf = (name: string): string => {
    const hook = emu.sessions.get(name)!.config.webhooks![0] as {
      customHeaders?: { name: string; value: string }[];
      hmac?: unknown;
    };
    expect(hook.hmac).toBeNull();
    return hook.customHeaders!.find((h) => h.name === TOKEN)!.value;
  };
  const post = (url: string, body: unknown, extra: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...extra },
      payload: JSON.stringify(body),
    });

  beforeAll(async () => {
    await emu.start();
    const port = await freePort();
    t = await startTestGateway({ env: { WAHA_URL: emu.url, PUBLIC_URL: `http://127.0.0.1:${port}` } });
    await t.app.listen({ port, host: '127.0.0.1' });
    headers = await createCompany(t, 'waha-token-co');
    for (const slot of [0, 1]) {
      const res = await postInstance(t, headers, { company_id: 'waha-token-co', provider: 'waha' });
      expect(res.statusCode, res.body).toBe(201);
      if (slot === 0) id = res.json().instance.id;
      else other = res.json().instance.id;
    }
    session = wahaSessionName(id);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await emu.stop();
  });

  it('derives session names from instance ids and back', () => {
    expect(session).toMatch(/^sb_[0-9a-f]{32}$/);
    expect(instanceIdOfWahaSession(session)).toBe(id);
    for (const name of ['default', 'sb_xyz', `${session}0`, `x${session}`]) {
      expect(instanceIdOfWahaSession(name)).toBeNull();
    }
  });

  it("gives each session its own token, and WAHA's echoed token lets the login through", async () => {
    expect(tokenOf(session)).not.toBe(tokenOf(wahaSessionName(other)));
    emu.scan(session, '4915112340000');
    await eventually(async () => (await t.gw.store.instances.get(id))?.auth_status === 'client_ready');
    const mine = emu.deliveries.filter((d) => d.url.endsWith(`/webhooks/waha/${id}`));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((d) => d.status === 200)).toBe(true);
  });

  it('refuses unsigned, wrongly signed and other-instance bodies on both routes (401, nothing stored)', async () => {
    const forged = {
      event: 'message',
      session,
      payload: { id: 'false_1@c.us_FORGED', from: '4915133333333@c.us', body: 'forged', fromMe: false },
    };
    for (const url of [`/webhooks/waha/${id}`, '/webhook']) {
      const attempts: Record<string, string>[] = [
        {},
        { [TOKEN]: 'not-the-token' },
        { [TOKEN]: tokenOf(wahaSessionName(other)) },
        { 'x-webhook-hmac': 'ab'.repeat(64) },
      ];
      for (const extra of attempts) {
        const res = await post(url, forged, extra);
        expect(res.statusCode, `${url} ${JSON.stringify(extra)}`).toBe(401);
        expect(res.json().error.code).toBe('SB_ERR_UNAUTHORIZED');
      }
    }
    expect(await t.gw.store.messages.getByMessageId(id, 'false_1@c.us_FORGED')).toBeNull();
    // A session name that is not ours cannot be authenticated without an HMAC key.
    const foreign = await post('/webhook', { ...forged, session: 'default' }, { [TOKEN]: tokenOf(session) });
    expect(foreign.statusCode).toBe(401);
  });

  it("routes seed 004's global webhook shapes by session name: message, message.ack, session.status", async () => {
    const auth = { [TOKEN]: tokenOf(session) };
    const inbound = await post(
      '/webhook',
      {
        event: 'message',
        session,
        payload: {
          id: 'false_4915122222222@c.us_SEED004',
          timestamp: 1_737_485_234,
          from: '4915122222222@c.us',
          fromMe: false,
          body: 'Olá, quero um orçamento',
          hasMedia: false,
        },
      },
      auth,
    );
    expect(inbound.statusCode, inbound.body).toBe(200);
    expect(inbound.json()).toMatchObject({ handled: 'message' });
    const stored = await eventually(() =>
      t.gw.store.messages.getByMessageId(id, 'false_4915122222222@c.us_SEED004'),
    );
    expect(stored).toMatchObject({ body: 'Olá, quero um orçamento', company_id: 'waha-token-co' });

    const sent = await postMessage(t, headers, id, { to: '4915122222222', text: 'segue o orçamento' });
    expect(sent.statusCode, sent.body).toBe(201);
    const message = sent.json().message;
    const ack = await post(
      '/webhook',
      { event: 'message.ack', session, payload: { id: message.message_id, ack: 3, ackName: 'READ' } },
      auth,
    );
    expect(ack.statusCode, ack.body).toBe(200);
    await eventually(async () => (await t.gw.store.messages.get(id, message.id))?.status === 'read');

    const bad = await post(
      '/webhook',
      { event: 'status.instance', session, payload: { status: 'weird' } },
      auth,
    );
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('SB_ERR_VALIDATION');
    const ignored = await post('/webhook', { event: 'presence.update', session, payload: {} }, auth);
    expect(ignored.json()).toEqual({ ignored: 'presence.update' });

    // Seed 004's status.instance on a non-pooled instance is the WAHA status it names: disconnected → STOPPED.
    // The session follows WAHA's current state on a status webhook, so WAHA's session really is stopped here.
    emu.sessions.get(session)!.status = 'STOPPED';
    const down = await post(
      '/webhook',
      { event: 'status.instance', session, payload: { status: 'disconnected' } },
      auth,
    );
    expect(down.statusCode, down.body).toBe(200);
    await eventually(async () => (await t.gw.store.instances.get(id))?.auth_status === 'disconnected');
  });
});
