// Every operation in the OpenAPI document: foreign ids are invisible (404), bad input is a 400 that changes nothing.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createCompany,
  createConnectedInstance,
  startTestGateway,
  type TestGateway,
} from '../support/gateway.js';
import { fillPath, listOperations, type Operation } from '../support/openapi.js';

/** Paths that are not tenant-scoped resources (public or self-describing). */
const NOT_TENANT_SCOPED = new Set(['/health', '/ready', '/docs', '/docs/json', '/docs/yaml']);

describe('tenant isolation and input validation on every operation', () => {
  let t: TestGateway;
  let alpha: Record<string, string>;
  let beta: Record<string, string>;
  let betaInstance: { id: string; apiKey: string };
  let betaMessageId: string;
  let betaKeyId: string;
  let betaWebhookId: string;
  let ops: Operation[];

  /** A digest of everything company beta owns, to prove nothing changed. */
  const betaChecksum = async () => {
    const s = t.gw.store;
    const inst = await s.instances.list({ company_id: 'beta', limit: 200 });
    const msgs = await s.messages.list({ instance_id: betaInstance.id, limit: 200 });
    const events = await s.events.listSince({ since: 0, limit: 10_000, company_id: 'beta' });
    const keys = await s.keys.list({ company_id: 'beta' });
    return createHash('sha256')
      .update(
        JSON.stringify([
          inst.items,
          msgs.items,
          events.map((e) => e.id),
          keys.map((k) => [k.id, k.revoked_at]),
        ]),
      )
      .digest('hex');
  };

  beforeAll(async () => {
    t = await startTestGateway({ listen: true, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    alpha = await createCompany(t, 'alpha');
    beta = await createCompany(t, 'beta');
    betaInstance = await createConnectedInstance(t, beta, 'beta', '15550002222');
    // Named, so that the by-name lookup has something of beta's to (not) find for alpha.
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/instances/${betaInstance.id}`,
      headers: beta,
      payload: { name: 'beta-front-desk' },
    });
    const inbound = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${betaInstance.id}/simulate/inbound`,
      headers: beta,
      payload: { from: '14155552671', text: 'secret of beta' },
    });
    betaMessageId = inbound.json().message_id;
    betaKeyId = (await t.gw.store.keys.list({ company_id: 'beta', kind: 'company' }))[0].id;
    const hook = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/instances/${betaInstance.id}/webhooks`,
      headers: beta,
      payload: { url: 'http://127.0.0.1:9/beta-hook' },
    });
    betaWebhookId = hook.json().webhook.id;
    ops = listOperations(t.app.swagger());
  });
  afterAll(async () => t?.close());

  const foreignValues = () => ({
    id: betaInstance.id,
    instanceId: betaInstance.id,
    companyId: 'beta',
    messageId: betaMessageId,
    keyId: betaKeyId,
    deliveryId: '1',
    approvalId: '00000000-0000-4000-8000-000000000002',
    name: 'beta-front-desk',
    lid: '123456789012345@lid',
    groupId: '120363000000000001@g.us',
  });

  it('finds the operations in the OpenAPI document', () => {
    expect(ops.length).toBeGreaterThan(20);
    expect(ops.some((o) => o.path === '/api/v1/instances/:id/messages' && o.method === 'POST')).toBe(true);
  });

  it("never shows or changes company beta's objects to company alpha", async () => {
    const before = await betaChecksum();
    const failures: string[] = [];
    let checked = 0;
    for (const op of ops) {
      if (NOT_TENANT_SCOPED.has(op.path) || op.path.startsWith('/docs') || op.public) continue;
      checked++;
      const values: Record<string, string> = { ...foreignValues() };
      if (op.path.startsWith('/api/v1/companies/:id')) values.id = 'beta';
      if (op.path.startsWith('/api/v1/webhooks/:id')) values.id = betaWebhookId;
      const url = fillPath(op.path, values);
      const res = await t.app.inject({
        method: op.method as 'GET',
        url,
        headers: alpha,
        payload: op.hasBody ? (validBodyFor(op) as object) : undefined,
      });
      const body = res.body;
      if (op.pathParams.length > 0) {
        if (![403, 404].includes(res.statusCode))
          failures.push(`${op.method} ${op.path} → ${res.statusCode} ${body.slice(0, 200)}`);
      } else if (
        res.statusCode < 400 &&
        (body.includes(betaInstance.id) || body.includes('secret of beta'))
      ) {
        failures.push(`${op.method} ${op.path} leaked beta data`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(20);
    // A company key may not create objects in another company either.
    const create = await t.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: alpha,
      payload: { company_id: 'beta', provider: 'simulator' },
    });
    expect(create.statusCode).toBe(404);
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/instances?company_id=beta',
      headers: alpha,
    });
    expect(list.json().instances).toEqual([]);
    expect(await betaChecksum()).toBe(before);
  });

  it('an instance key sees only its own instance, even within its company', async () => {
    const other = await createConnectedInstance(t, beta, 'beta', '15550003333');
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/instances/${other.id}`,
      headers: { 'x-api-key': betaInstance.apiKey },
    });
    expect(res.statusCode).toBe(404);
    const own = await t.app.inject({
      method: 'GET',
      url: '/api/v1/instances',
      headers: { 'x-api-key': betaInstance.apiKey },
    });
    expect(own.json().instances.map((i: { id: string }) => i.id)).toEqual([betaInstance.id]);
    const keys = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/beta/keys',
      headers: { 'x-api-key': betaInstance.apiKey },
    });
    expect(keys.statusCode).toBe(403);
  });

  it('refuses a WebSocket subscription to a foreign company or instance', async () => {
    const base = t.url.replace('http', 'ws');
    const key = alpha.authorization.replace('Bearer ', '');
    for (const q of [`instance_id=${betaInstance.id}`, 'company_id=beta']) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${base}/api/v1/events?api_key=${key}&${q}`);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => resolve(-1));
      });
      expect(status).toBe(404);
    }
  });

  it('answers 401 without a key and with a bad key on every authenticated operation', async () => {
    const failures: string[] = [];
    for (const op of ops) {
      if (op.public || NOT_TENANT_SCOPED.has(op.path) || op.path.startsWith('/docs')) continue;
      const url = fillPath(op.path, {
        ...foreignValues(),
        id: op.path.startsWith('/api/v1/webhooks/:id') ? betaWebhookId : betaInstance.id,
      });
      for (const headers of [{}, { authorization: 'Bearer sb_co_notakey' }]) {
        const res = await t.app.inject({ method: op.method as 'GET', url, headers });
        if (res.statusCode !== 401 || res.json().error?.code !== 'SB_ERR_UNAUTHORIZED') {
          failures.push(`${op.method} ${op.path} → ${res.statusCode}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('rejects bad params, queries and bodies with a coded 400 and writes nothing', async () => {
    const own = await createConnectedInstance(t, alpha, 'alpha', '15550004444');
    const countAlpha = async () =>
      JSON.stringify([
        await t.gw.store.events.latestId(),
        (await t.gw.store.instances.list({ company_id: 'alpha', limit: 200 })).items.map((i) => i.updated_at),
      ]);
    const before = await countAlpha();
    const failures: string[] = [];
    const expect400 = async (op: Operation, url: string, payload?: unknown, what = '') => {
      const res = await t.app.inject({
        method: op.method as 'GET',
        url,
        headers: { ...alpha, 'content-type': 'application/json' },
        payload: payload === undefined ? undefined : JSON.stringify(payload),
      });
      const code = res.statusCode === 400 ? res.json().error?.code : null;
      if (res.statusCode !== 400 || !['SB_ERR_VALIDATION', 'SB_ERR_BAD_JSON'].includes(code)) {
        failures.push(`${what} ${op.method} ${op.path} → ${res.statusCode} ${res.body.slice(0, 160)}`);
      }
    };
    for (const op of ops) {
      if (op.public || op.path.startsWith('/docs')) continue;
      const good: Record<string, string> = {
        id: own.id,
        instanceId: own.id,
        companyId: 'alpha',
        messageId: 'x',
        keyId: '00000000-0000-0000-0000-000000000000',
        deliveryId: '1',
        approvalId: '00000000-0000-4000-8000-000000000002',
        name: 'x',
        lid: '123456789012345@lid',
        groupId: '120363000000000001@g.us',
      };
      if (op.path.startsWith('/api/v1/companies/:id')) good.id = 'alpha';
      const url = fillPath(op.path, good);
      if (op.pathParams.includes('id') || op.pathParams.includes('instanceId')) {
        const bad = fillPath(op.path, {
          ...good,
          id: op.path.startsWith('/api/v1/companies/:id') ? 'bad id!' : 'not-a-uuid',
          instanceId: 'not-a-uuid',
        });
        await expect400(op, bad, op.hasBody ? validBodyFor(op) : undefined, 'param');
      }
      if (op.queryParams.length > 0 && op.method === 'GET')
        await expect400(op, `${url}?unexpected_param=1`, undefined, 'query');
      if (op.hasBody) {
        await expect400(op, url, { unexpected_field_xyz: true }, 'body');
        if (op.bodyRequired) await expect400(op, url, [], 'array body');
      }
    }
    // Malformed JSON.
    const bad = await t.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: { ...alpha, 'content-type': 'application/json' },
      payload: '{"company_id": ',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('SB_ERR_BAD_JSON');
    // Over-long text and bad phone numbers.
    const long = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${own.id}/messages`,
      headers: alpha,
      payload: { to: '14155552671', text: 'x'.repeat(4097) },
    });
    expect(long.statusCode).toBe(400);
    expect(long.json().error.details[0].path).toBe('text');
    const phone = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${own.id}/messages`,
      headers: alpha,
      payload: { to: '12', text: 'hi' },
    });
    expect(phone.statusCode).toBe(400);
    expect(failures).toEqual([]);
    expect(await countAlpha()).toBe(before);
  });
});

/** A body that passes validation for each operation with a body (so the tenant check, not validation, answers). */
function validBodyFor(op: Operation): object {
  const key = `${op.method} ${op.path}`;
  const examples: Record<string, object> = {
    'POST /api/v1/companies': { id: 'gamma', name: 'Gamma' },
    'POST /api/v1/instances': { company_id: 'alpha', provider: 'simulator', start: false },
    'PATCH /api/v1/instances/:id': { name: 'renamed' },
    'POST /api/v1/instances/:id/messages': { to: '14155552671', text: 'hi' },
    'POST /api/v1/instances/:id/simulate/scan': {},
    'POST /api/v1/instances/:id/simulate/inbound': { from: '14155552671', text: 'x' },
    'POST /api/v1/instances/:id/simulate/drop': {},
    'POST /api/v1/instances/:id/simulate/logout': {},
    'POST /api/v1/companies/:id/keys': {},
    ...EXTRA_EXAMPLES,
  };
  if (!(key in examples)) {
    throw new Error(
      `add a valid example body for "${key}" to EXTRA_EXAMPLES in test/e2e/tenant-and-input.test.ts`,
    );
  }
  return examples[key];
}

/** Example bodies for operations added by later features. */
const EXTRA_EXAMPLES: Record<string, object> = {
  'POST /api/v1/instances/:id/groups': { subject: 'Team', participants: ['+4915112345678'] },
  'POST /api/v1/instances/:id/groups/:groupId/participants': {
    action: 'add',
    participants: ['+4915112345678'],
  },
  'POST /api/v1/instances/:id/pairing-code': { phone: '+4915112345678' },
  'POST /api/v1/instances/:id/mcp/approvals/:approvalId': { decision: 'approve' },
  'POST /api/v1/companies/:id/users': {
    email: 'new.user@example.com',
    password: 'correct horse battery staple',
  },
  'POST /api/whatsapp/sessions/:companyId/initialize': {},
  'POST /api/whatsapp/sessions/:companyId/send': { phone: '+14155552671', message: 'hi' },
  'POST /api/whatsapp/connect': {},
  'POST /api/whatsapp/disconnect': {},
  'PUT /api/v1/instances/:id/webhooks': { url: 'https://hooks.example.com/in' },
  'POST /api/v1/companies/:id/webhooks': { url: 'https://hooks.example.com/in' },
  'PATCH /api/v1/webhooks/:id': { enabled: false },
  'POST /api/v1/webhooks/:id/rotate-secret': {},
  'POST /api/v1/webhooks/:id/replay': { since: '2020-01-01T00:00:00Z' },
  'POST /api/v1/sinks': { kind: 'rabbitmq', url: 'amqp://127.0.0.1:9/x', exchange: 'x' },
  'PATCH /api/v1/sinks/:id': { enabled: false },
  'POST /api/v1/sinks/:id/rotate-secret': {},
  'POST /api/v1/sinks/:id/replay': { since: '2020-01-01T00:00:00Z' },
};
