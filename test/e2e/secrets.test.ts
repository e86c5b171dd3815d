// Secrets never leak: with trace logging, no issued secret appears in logs, events, responses or a database dump.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createCompany,
  createConnectedInstance,
  startTestGateway,
  TEST_ADMIN_KEY,
  type TestGateway,
} from '../support/gateway.js';

describe('secrets never leak', { timeout: 120_000 }, () => {
  let t: TestGateway;
  const logs: string[] = [];
  const secrets: string[] = [TEST_ADMIN_KEY];
  const responses: string[] = [];

  beforeAll(async () => {
    t = await startTestGateway({
      env: { LOG_LEVEL: 'trace', WEBHOOK_ALLOW_PRIVATE: 'true' },
      logs: { write: (l) => void logs.push(l) },
      listen: true,
    });
  });
  afterAll(async () => t?.close());

  it('keeps API keys, webhook secrets, passwords and tokens out of logs, events, later responses, WebSocket frames and the database', async () => {
    const company = await createCompany(t, 'acme');
    secrets.push(company.authorization.replace('Bearer ', ''));
    const inst = await createConnectedInstance(t, company, 'acme');
    secrets.push(inst.apiKey);
    const rotated = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/keys/rotate`,
      headers: company,
    });
    secrets.push(rotated.json().api_key);
    // A webhook secret, a user's password and the user's login token.
    const hook = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/instances/${inst.id}/webhooks`,
      headers: company,
      payload: { url: 'http://127.0.0.1:9/hook' },
    });
    expect(hook.json().secret).toMatch(/^whsec_/);
    // The signing secret must stay usable for HMAC, so it is the one secret the database keeps (never shown again).
    const webhookSecret = hook.json().secret.replace(/^whsec_/, '');
    secrets.push(webhookSecret);
    const password = 'Tr0ub4dor&3-horse-battery';
    const user = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/acme/users',
      headers: company,
      payload: { email: 'owner@acme.test', password },
    });
    expect(user.statusCode).toBe(201);
    secrets.push(password);
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'owner@acme.test', password },
    });
    secrets.push(login.json().token);
    await t.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'owner@acme.test', password: `${password}x` },
    });
    responses.push(
      (
        await t.app.inject({
          method: 'GET',
          url: '/api/auth/me',
          headers: { authorization: `Bearer ${login.json().token}` },
        })
      ).body,
    );

    // Exercise the API with keys in every place a key can be sent, including wrong ones and query strings.
    const frames: string[] = [];
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/v1/events?api_key=${secrets[1]}`);
    ws.on('message', (m) => frames.push(String(m)));
    await new Promise((r) => ws.on('open', r));
    for (const headers of [
      company,
      { 'x-api-key': inst.apiKey },
      { authorization: `Bearer ${secrets[1]}x` },
    ]) {
      for (const url of [
        `/api/v1/instances/${inst.id}`,
        `/api/v1/instances/${inst.id}/messages`,
        '/api/v1/instances?limit=500',
      ]) {
        responses.push((await t.app.inject({ method: 'GET', url, headers })).body);
      }
    }
    const sent = await fetch(`${t.url}/api/v1/instances/${inst.id}/messages?api_key=${secrets[1]}`, {
      method: 'POST',
      headers: { ...company, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '14155552671', text: 'hello' }),
    });
    responses.push(await sent.text());
    responses.push(
      (await t.app.inject({ method: 'GET', url: '/api/v1/companies/acme/keys', headers: company })).body,
    );
    await new Promise((r) => setTimeout(r, 100));
    ws.close();

    const events = await t.gw.store.events.listSince({ since: 0, limit: 10_000 });
    const dump = await dumpDatabase(t);
    expect(logs.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      expect(
        logs.filter((l) => l.includes(secret)),
        'logs',
      ).toEqual([]);
      expect(JSON.stringify(events).includes(secret), 'events').toBe(false);
      expect(
        responses.filter((r) => r.includes(secret)),
        'responses',
      ).toEqual([]);
      expect(
        frames.filter((f) => f.includes(secret)),
        'websocket',
      ).toEqual([]);
      if (secret !== webhookSecret) expect(dump.includes(secret), 'database dump').toBe(false);
    }
    expect(logs.join('\n')).not.toMatch(/authorization":"Bearer/i);
  });
});

/** Every row of every table of the test schema, as text. */
async function dumpDatabase(t: TestGateway): Promise<string> {
  const tables = await t.db.driver.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
    [t.db.schema],
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await t.db.driver.query(`SELECT * FROM "${t.db.schema}"."${table_name}"`);
    parts.push(JSON.stringify(rows));
  }
  return parts.join('\n');
}
