// Key-issuance matrix: every kind of caller × every route that issues, rotates or lists credentials; rights never grow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  createConnectedInstance,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';

type Scope = 'read' | 'send' | 'control' | 'admin';
const ALL: Scope[] = ['read', 'send', 'control', 'admin'];
const RSC: Scope[] = ['read', 'send', 'control'];

/** What a caller holds, as the model of the rules below sees it. */
interface Caller {
  name: string;
  kind: 'company' | 'instance' | 'user';
  scopes: Scope[];
  /** null: every instance of the company. */
  instances: 'a'[] | null;
  /** How the caller's credential is made: a company key with this body, or a special credential. */
  make: object | 'full' | 'instance' | 'user';
}

const CALLERS: Caller[] = [
  { name: 'full company key', kind: 'company', scopes: ALL, instances: null, make: 'full' },
  ...ALL.map((s) => ({
    name: `${s} key`,
    kind: 'company' as const,
    scopes: [s],
    instances: null,
    make: { scopes: [s] },
  })),
  {
    name: 'admin+read key',
    kind: 'company',
    scopes: ['admin', 'read'],
    instances: null,
    make: { scopes: ['admin', 'read'] },
  },
  { name: 'read+send+control key', kind: 'company', scopes: RSC, instances: null, make: { scopes: RSC } },
  {
    name: 'full key limited to instance a',
    kind: 'company',
    scopes: ALL,
    instances: ['a'],
    make: { instance_ids: ['a'] },
  },
  {
    name: 'admin+read key limited to instance a',
    kind: 'company',
    scopes: ['admin', 'read'],
    instances: ['a'],
    make: { scopes: ['admin', 'read'], instance_ids: ['a'] },
  },
  { name: 'instance key of a', kind: 'instance', scopes: RSC, instances: ['a'], make: 'instance' },
  { name: 'user (JWT)', kind: 'user', scopes: RSC, instances: null, make: 'user' },
];

/** One issuing or listing operation and what it would hand out. */
interface Op {
  name: string;
  method: 'GET' | 'POST';
  url: () => string;
  body?: () => object;
  /** The expected status for a caller under the rules (rights never grow; listing needs admin). */
  expect: (c: Caller) => number;
  ok: number;
}

const has = (c: Caller, s: Scope[]) => s.every((x) => c.scopes.includes(x));
const unrestricted = (c: Caller) => c.instances === null;

describe('key issuance matrix', () => {
  let t: TestGateway;
  let full: Record<string, string>;
  let a: { id: string };
  let b: { id: string };
  /** The current key of instance a (a permitted rotation replaces it). */
  let instanceKeyA = '';
  let n = 0;

  const call = (method: string, url: string, headers: Record<string, string>, payload?: object) =>
    t.app.inject({ method: method as 'GET', url, headers, payload });
  const companyKey = async (body: object) => {
    const r = await call('POST', '/api/v1/companies/acme/keys', full, body);
    expect(r.statusCode, r.body).toBe(201);
    const key = r.json().key as string;
    return () => ({ authorization: `Bearer ${key}` });
  };

  const headersOf = new Map<string, () => Record<string, string>>();

  beforeAll(async () => {
    t = await startTestGateway();
    full = await createCompany(t, 'acme');
    a = await createConnectedInstance(t, full, 'acme', '15550100001');
    b = await createConnectedInstance(t, full, 'acme', '15550100002');
    instanceKeyA = (a as unknown as { apiKey: string }).apiKey;
    const user = await call('POST', '/api/v1/companies/acme/users', full, {
      email: 'member@acme.test',
      password: 'correct horse battery',
    });
    expect(user.statusCode, user.body).toBe(201);
    const login = await call(
      'POST',
      '/api/auth/login',
      {},
      { email: 'member@acme.test', password: 'correct horse battery' },
    );
    expect(login.statusCode, login.body).toBe(200);
    const token = login.json().token as string;
    for (const c of CALLERS) {
      if (c.make === 'full') headersOf.set(c.name, () => full);
      else if (c.make === 'instance')
        headersOf.set(c.name, () => ({ authorization: `Bearer ${instanceKeyA}` }));
      else if (c.make === 'user') headersOf.set(c.name, () => ({ authorization: `Bearer ${token}` }));
      else {
        const body = c.make as { scopes?: Scope[]; instance_ids?: string[] };
        headersOf.set(
          c.name,
          await companyKey({ ...body, ...(body.instance_ids ? { instance_ids: [a.id] } : {}) }),
        );
      }
    }
  }, 180_000);
  afterAll(async () => t?.close());

  /** Issuing a company key: admin scope, and the new key's scopes and instances within the caller's. */
  const issue = (name: string, scopes: Scope[] | undefined, inst: ('a' | 'b')[] | undefined): Op => ({
    name,
    method: 'POST',
    url: () => '/api/v1/companies/acme/keys',
    body: () => ({
      ...(scopes ? { scopes } : {}),
      ...(inst ? { instance_ids: inst.map((x) => (x === 'a' ? a.id : b.id)) } : {}),
    }),
    ok: 201,
    expect: (c) => {
      if (c.kind === 'instance' || !c.scopes.includes('admin')) return 403;
      if (c.instances && inst?.some((x) => !c.instances!.includes(x as 'a'))) return 404;
      const wantScopes = scopes ?? ALL;
      const withinInstances = c.instances === null || inst !== undefined;
      return has(c, wantScopes) && withinInstances ? 201 : 403;
    },
  });

  const ops: Op[] = [
    issue('issue a full key', undefined, undefined),
    ...ALL.map((s) => issue(`issue a ${s} key`, [s], undefined)),
    issue('issue a key for instance a', undefined, ['a']),
    issue('issue a read key for instance a', ['read'], ['a']),
    issue('issue a key for instance b', undefined, ['b']),
    {
      name: 'rotate the key of instance a',
      method: 'POST',
      url: () => `/api/v1/instances/${a.id}/keys/rotate`,
      ok: 200,
      // The new instance key reads, sends and controls instance a: the caller must hold all of that.
      expect: (c) => (!c.scopes.includes('control') ? 403 : has(c, RSC) ? 200 : 403),
    },
    {
      name: 'rotate the key of instance b',
      method: 'POST',
      url: () => `/api/v1/instances/${b.id}/keys/rotate`,
      ok: 200,
      expect: (c) =>
        !c.scopes.includes('control')
          ? 403
          : c.instances && !c.instances.includes('b' as 'a')
            ? 404
            : has(c, RSC)
              ? 200
              : 403,
    },
    {
      name: 'create an instance (returns its key)',
      method: 'POST',
      url: () => '/api/v1/instances',
      body: () => ({ company_id: 'acme', provider: 'simulator', start: false }),
      ok: 201,
      expect: (c) =>
        !c.scopes.includes('control') || c.kind === 'instance'
          ? 403
          : has(c, RSC) && unrestricted(c)
            ? 201
            : 403,
    },
    {
      name: 'create a user (user role: read, send, control on every instance)',
      method: 'POST',
      url: () => '/api/v1/companies/acme/users',
      body: () => ({ email: `u${++n}@acme.test`, password: 'a long enough password' }),
      ok: 201,
      expect: (c) =>
        c.kind !== 'company' || !c.scopes.includes('admin')
          ? 403
          : has(c, RSC) && unrestricted(c)
            ? 201
            : 403,
    },
    {
      name: 'list keys',
      method: 'GET',
      url: () => '/api/v1/companies/acme/keys',
      ok: 200,
      expect: (c) => (c.kind !== 'instance' && c.scopes.includes('admin') ? 200 : 403),
    },
    {
      name: 'list users',
      method: 'GET',
      url: () => '/api/v1/companies/acme/users',
      ok: 200,
      expect: (c) => (c.kind !== 'instance' && c.scopes.includes('admin') ? 200 : 403),
    },
  ];

  /** Active keys and instances of acme, to show that a refused request changed nothing. */
  const footprint = async () =>
    (
      await t.db.driver.query<{ k: number; i: number }>(
        `SELECT (SELECT count(*)::int FROM "${t.db.schema}".api_keys WHERE company_id = 'acme' AND revoked_at IS NULL) AS k,
                (SELECT count(*)::int FROM "${t.db.schema}".instances WHERE company_id = 'acme') AS i`,
      )
    )[0];

  for (const c of CALLERS) {
    it(`${c.name}: gets exactly what it holds; the rest is a coded 403/404 that changes nothing`, async () => {
      const mismatches: string[] = [];
      for (const op of ops) {
        const before = await footprint();
        const res = await call(op.method, op.url(), headersOf.get(c.name)!(), op.body?.());
        const want = op.expect(c);
        if (res.statusCode !== want)
          mismatches.push(`${op.name}: got ${res.statusCode} (${res.body}), want ${want}`);
        if (res.statusCode === op.ok && op.name === 'rotate the key of instance a')
          instanceKeyA = res.json().api_key;
        if (res.statusCode >= 400) {
          expect(res.json().error.code).toMatch(
            /^SB_ERR_(SCOPE_MISSING|RIGHTS_EXCEEDED|FORBIDDEN|INSTANCE_NOT_FOUND)$/,
          );
          expect(await footprint()).toEqual(before);
        }
      }
      expect(mismatches).toEqual([]);
    });
  }

  it('a control key cannot obtain read or send through a rotated instance key', async () => {
    const control = await companyKey({ scopes: ['control'] });
    const before = instanceKeyA;
    const r = await call('POST', `/api/v1/instances/${a.id}/keys/rotate`, control());
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('SB_ERR_RIGHTS_EXCEEDED');
    // The old instance key still works: the refused rotation changed nothing.
    const still = await call('GET', `/api/v1/instances/${a.id}`, { authorization: `Bearer ${before}` });
    expect(still.statusCode).toBe(200);
  });

  it('an instance-limited key cannot mint an unrestricted company key', async () => {
    const limited = await companyKey({ instance_ids: [a.id] });
    const r = await call('POST', '/api/v1/companies/acme/keys', limited(), {});
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('SB_ERR_RIGHTS_EXCEEDED');
    // What it may mint is limited to instance a as well.
    const ok = await call('POST', '/api/v1/companies/acme/keys', limited(), { instance_ids: [a.id] });
    expect(ok.statusCode).toBe(201);
    const minted = { authorization: `Bearer ${ok.json().key}` };
    expect((await call('GET', `/api/v1/instances/${b.id}`, minted)).statusCode).toBe(404);
  });

  it('a signed-in user holds the user role: reads, sends and controls, but mints no key and lists no key', async () => {
    const user = headersOf.get('user (JWT)')!;
    expect((await call('GET', `/api/v1/instances/${a.id}/messages`, user())).statusCode).toBe(200);
    const minted = await call('POST', '/api/v1/companies/acme/keys', user(), {});
    expect(minted.statusCode).toBe(403);
    expect(minted.json().error.code).toBe('SB_ERR_SCOPE_MISSING');
    const listed = await call('GET', '/api/v1/companies/acme/keys', user());
    expect(listed.statusCode).toBe(403);
  });

  it('an instance key is dead once its instance belongs to another company', async () => {
    await createCompany(t, 'globex');
    const moved = await createConnectedInstance(t, full, 'acme', '15550100009');
    const key = { authorization: `Bearer ${moved.apiKey}` };
    expect((await call('GET', `/api/v1/instances/${moved.id}`, key)).statusCode).toBe(200);
    // What the warm pool does on reassignment: the row now belongs to globex.
    await t.db.driver.query(`UPDATE "${t.db.schema}".instances SET company_id = 'globex' WHERE id = $1`, [
      moved.id,
    ]);
    t.gw.keys.invalidate();
    for (const url of [
      `/api/v1/instances/${moved.id}`,
      `/api/v1/instances/${moved.id}/messages`,
      '/api/v1/instances',
    ]) {
      const r = await call('GET', url, key);
      expect(r.statusCode, url).toBe(401);
      expect(r.json().error.code).toBe('SB_ERR_UNAUTHORIZED');
    }
    const send = await call('POST', `/api/v1/instances/${moved.id}/messages`, key, {
      to: '14155552671',
      text: 'x',
    });
    expect(send.statusCode).toBe(401);
  });
});
