// Instance API papercuts: JSON settings checked on write, company_id taken from a company key, lookup by name, and
// a short-lived signed QR image link that works in an <img> without a header.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { QrLinks } from '../../core/qr-links.js';

let t: TestGateway;
let acme: Record<string, string>;
let beta: Record<string, string>;

const create = (headers: Record<string, string>, payload: Record<string, unknown>) =>
  t.app.inject({ method: 'POST', url: '/api/v1/instances', headers, payload });
const count = async () => (await t.gw.store.instances.list({ limit: 200 })).items.length;

beforeAll(async () => {
  t = await startTestGateway();
  acme = await createCompany(t, 'paper-acme');
  beta = await createCompany(t, 'paper-beta');
});
afterAll(async () => t?.close());

describe('JSON settings are checked on write', () => {
  it('refuses an invalid mcp_schema on create and on PATCH with a 400 naming the field, changing nothing', async () => {
    const before = await count();
    const bad = await create(acme, {
      provider: 'simulator',
      start: false,
      mcp_schema: { allowed_tools: ['send_mesage'] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('SB_ERR_VALIDATION');
    expect(bad.json().error.details[0].path).toBe('mcp_schema.allowed_tools.0');
    expect(await count()).toBe(before);

    const ok = await create(acme, {
      provider: 'simulator',
      start: false,
      mcp_schema: { require_approval: true },
    });
    expect(ok.statusCode, ok.body).toBe(201);
    const id = ok.json().instance.id;
    for (const mcp_schema of [
      { alowed_tools: [] },
      { require_approval: 'yes' },
      { allowed_recipients: 'all' },
    ]) {
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/instances/${id}`,
        headers: acme,
        payload: { mcp_schema },
      });
      expect(res.statusCode, JSON.stringify(mcp_schema)).toBe(400);
      expect(res.json().error.message).toContain('mcp_schema');
    }
    expect((await t.gw.store.instances.get(id))?.mcp_schema).toEqual({ require_approval: true });
  });

  it('refuses an invalid webhook or agent setting with a 400 naming it', async () => {
    const before = await count();
    const hook = await create(acme, {
      provider: 'simulator',
      start: false,
      api_webhook_schema: { url: 'http://127.0.0.1:9/hook', events: 5 },
    });
    expect(hook.statusCode).toBe(400);
    expect(hook.json().error.details[0].path).toBe('api_webhook_schema.events');
    const agent = await create(acme, {
      provider: 'simulator',
      start: false,
      agent: { url: 'x', agent_id: 7 },
    });
    expect(agent.statusCode).toBe(400);
    expect(agent.json().error.details[0].path).toBe('agent.agent_id');
    expect(await count()).toBe(before);
  });
});

describe('company_id from a company key', () => {
  it('is inferred when left out, accepted when equal, refused (404, as any foreign company) when different', async () => {
    const inferred = await create(acme, { provider: 'simulator', start: false });
    expect(inferred.statusCode, inferred.body).toBe(201);
    expect(inferred.json().instance.company_id).toBe('paper-acme');
    const equal = await create(acme, { company_id: 'paper-acme', provider: 'simulator', start: false });
    expect(equal.statusCode).toBe(201);
    const before = await count();
    const other = await create(acme, { company_id: 'paper-beta', provider: 'simulator', start: false });
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe('SB_ERR_COMPANY_NOT_FOUND');
    expect(await count()).toBe(before);
  });

  it('is still required from an admin key', async () => {
    const res = await create(t.admin, { provider: 'simulator', start: false });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].path).toBe('company_id');
  });
});

describe('GET /api/v1/instances/by-name/:name', () => {
  it("finds the caller's instance by name; never another company's; 409 when a name is ambiguous", async () => {
    const a = (await create(acme, { provider: 'simulator', start: false, name: 'front desk' })).json()
      .instance;
    const b = (await create(beta, { provider: 'simulator', start: false, name: 'front desk' })).json()
      .instance;
    const get = (headers: Record<string, string>, q = '') =>
      t.app.inject({ method: 'GET', url: `/api/v1/instances/by-name/front%20desk${q}`, headers });

    expect((await get(acme)).json().instance.id).toBe(a.id);
    expect((await get(beta)).json().instance.id).toBe(b.id);
    const missing = await t.app.inject({
      method: 'GET',
      url: '/api/v1/instances/by-name/nobody',
      headers: acme,
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('SB_ERR_INSTANCE_NOT_FOUND');

    const ambiguous = await get(t.admin);
    expect(ambiguous.statusCode).toBe(409);
    expect(ambiguous.json().error.code).toBe('SB_ERR_AMBIGUOUS_NAME');
    expect(ambiguous.json().error.details.ids.sort()).toEqual([a.id, b.id].sort());
    expect((await get(t.admin, '?company_id=paper-beta')).json().instance.id).toBe(b.id);
    // A company key asking for another company's instances sees none.
    expect((await get(acme, '?company_id=paper-beta')).statusCode).toBe(404);
  });
});

describe('signed QR image link', () => {
  let id = '';
  let other = '';
  let imageUrl = '';

  beforeAll(async () => {
    for (const slot of [0, 1]) {
      const res = await create(acme, { provider: 'simulator' });
      expect(res.statusCode, res.body).toBe(201);
      if (slot === 0) id = res.json().instance.id;
      else other = res.json().instance.id;
    }
    for (const i of [id, other])
      await eventually(async () => (await t.gw.store.instances.get(i))?.auth_status === 'qr_ready');
    const qr = await t.app.inject({ method: 'GET', url: `/api/v1/instances/${id}/qr`, headers: acme });
    expect(qr.statusCode, qr.body).toBe(200);
    imageUrl = qr.json().image_url;
    const expires = Date.parse(qr.json().image_url_expires_at);
    expect(expires - Date.now()).toBeLessThanOrEqual(300_000);
    expect(expires).toBeGreaterThan(Date.now());
    const dataurl = await t.app.inject({
      method: 'GET',
      url: `/api/v1/instances/${id}/qr?format=dataurl`,
      headers: acme,
    });
    expect(dataurl.json().image_url).toMatch(/\/qr\.png\?exp=\d+&sig=/);
  });

  it('serves the PNG without any header', async () => {
    expect(imageUrl).toMatch(new RegExp(`^/api/v1/instances/${id}/qr\\.png\\?exp=\\d+&sig=[\\w-]+$`));
    const res = await t.app.inject({ method: 'GET', url: imageUrl });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.rawPayload.subarray(1, 4).toString()).toBe('PNG');
  });

  it('cannot be used for another instance, altered or forged', async () => {
    const attempts = [
      imageUrl.replace(id, other),
      imageUrl.replace(/sig=([\w-])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`),
      imageUrl.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 1}`),
      imageUrl.replace(/sig=[\w-]+/, 'sig=forged'),
      imageUrl.replace(id, '00000000-0000-4000-8000-000000000000'),
    ];
    for (const url of attempts) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
      expect(res.json().error.code).toBe('SB_ERR_UNAUTHORIZED');
    }
    const noSig = await t.app.inject({ method: 'GET', url: `/api/v1/instances/${id}/qr.png` });
    expect(noSig.statusCode).toBe(400);
  });

  it('expires, and a correctly signed link further ahead than 5 minutes is refused too', async () => {
    // Signed with the server's own secret (same database), so only the expiry can be the reason.
    const links = new QrLinks(t.gw.store.meta, 120);
    const inst = (await t.gw.store.instances.get(id))!;
    const now = Math.floor(Date.now() / 1000);
    for (const [exp, why] of [
      [now - 1, 'expired'],
      [now + 3600, 'not valid'],
    ] as const) {
      const sig = await links.sign(inst, exp);
      const res = await t.app.inject({
        method: 'GET',
        url: `/api/v1/instances/${id}/qr.png?exp=${exp}&sig=${sig}`,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.message).toContain(why);
    }
    // The same secret signs a link that is valid now: the refusals above were the expiry, not the signature.
    const fresh = await links.issue(inst);
    const ok = await t.app.inject({
      method: 'GET',
      url: `/api/v1/instances/${id}/qr.png?exp=${fresh.exp}&sig=${fresh.sig}`,
    });
    expect(ok.statusCode).toBe(200);
  });

  it('stops working when the instance changes company (a recycled pool instance)', async () => {
    await t.gw.store.instances.update(id, { assigned_to: 'paper-beta' });
    const res = await t.app.inject({ method: 'GET', url: imageUrl });
    expect(res.statusCode).toBe(401);
  });
});
