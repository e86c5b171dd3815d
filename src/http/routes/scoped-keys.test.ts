// Scoped company keys: read/send/control/admin scopes, instance restrictions, revocation, keys list without secrets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  createConnectedInstance,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { KeyResolver } from '../../core/keys.js';

describe('scoped keys', () => {
  let t: TestGateway;
  let full: Record<string, string>;
  let a: { id: string };
  let b: { id: string };

  const issue = async (body: object, headers = full) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/acme/keys',
      headers,
      payload: body,
    });
    return { res, headers: { authorization: `Bearer ${res.json().key}` } };
  };

  beforeAll(async () => {
    t = await startTestGateway();
    full = await createCompany(t, 'acme');
    a = await createConnectedInstance(t, full, 'acme', '15550100001');
    b = await createConnectedInstance(t, full, 'acme', '15550100002');
  });
  afterAll(async () => t?.close());

  it('a read-only key reads but cannot send, control or manage keys', async () => {
    const { res, headers } = await issue({ scopes: ['read'], label: 'dashboard' });
    expect(res.statusCode).toBe(201);
    expect(res.json().api_key).toMatchObject({ scopes: ['read'], label: 'dashboard' });
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/instances/${a.id}`, headers })).statusCode,
    ).toBe(200);
    for (const [method, url, payload] of [
      ['POST', `/api/v1/instances/${a.id}/messages`, { to: '14155552671', text: 'x' }],
      ['POST', `/api/v1/instances/${a.id}/stop`, undefined],
      ['POST', '/api/v1/companies/acme/keys', {}],
    ] as const) {
      const r = await t.app.inject({ method, url, headers, payload });
      expect(r.statusCode, `${method} ${url}`).toBe(403);
      expect(r.json().error.code).toBe('SB_ERR_SCOPE_MISSING');
    }
    expect((await t.gw.store.instances.get(a.id))?.status).toBe('running');
  });

  it('a send-only key sends but cannot read', async () => {
    const { headers } = await issue({ scopes: ['send'] });
    const sent = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${a.id}/messages`,
      headers,
      payload: { to: '14155552671', text: 'from a send key' },
    });
    expect(sent.statusCode).toBe(201);
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/instances/${a.id}/messages`, headers })).statusCode,
    ).toBe(403);
  });

  it('a key restricted to one instance cannot see the others', async () => {
    const { headers } = await issue({ instance_ids: [a.id] });
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/instances/${a.id}`, headers })).statusCode,
    ).toBe(200);
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/instances/${b.id}`, headers })).statusCode,
    ).toBe(404);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/instances', headers });
    expect(list.json().instances.map((i: { id: string }) => i.id)).toEqual([a.id]);
  });

  it('a scoped key cannot mint a broader key', async () => {
    const { headers } = await issue({ scopes: ['admin', 'read'] });
    expect((await issue({ scopes: ['read'] }, headers)).res.statusCode).toBe(201);
    expect((await issue({}, headers)).res.statusCode).toBe(403);
    expect((await issue({ scopes: ['send'] }, headers)).res.statusCode).toBe(403);
  });

  it('lists keys by prefix without the key or its hash, and revocation takes effect', async () => {
    const { res, headers } = await issue({ scopes: ['read'] });
    const key = res.json().key as string;
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/companies/acme/keys', headers: full });
    expect(list.body).not.toContain(key);
    expect(list.body).not.toContain('hash');
    const row = list.json().keys.find((k: { id: string }) => k.id === res.json().api_key.id);
    expect(key.startsWith(row.prefix)).toBe(true);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/companies/acme/keys/${row.id}`,
      headers: full,
    });
    expect(del.statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/instances', headers })).statusCode).toBe(401);
  });

  it('another replica stops accepting a revoked key within 1 s (cache TTL)', async () => {
    const { res } = await issue({});
    const key = res.json().key as string;
    let now = 1_000_000;
    const otherReplica = new KeyResolver(t.gw.store, undefined, () => now);
    expect(await otherReplica.resolve(key)).not.toBeNull();
    await t.gw.store.keys.revoke(res.json().api_key.id);
    now += 999;
    expect(await otherReplica.resolve(key)).not.toBeNull();
    now += 2;
    expect(await otherReplica.resolve(key)).toBeNull();
  });
});
