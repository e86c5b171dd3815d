// Users and sign-in over HTTP: creation rules, JWT login, /me, identical failures, per-email rate limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, startTestGateway, type TestGateway } from '../../../test/support/gateway.js';

let t: TestGateway;
let acme: Record<string, string>;

beforeAll(async () => {
  t = await startTestGateway({ env: { LOGIN_RATE_LIMIT_MAX: '3' } });
  acme = await createCompany(t, 'acme');
  await createCompany(t, 'globex');
});
afterAll(() => t?.close());

const inject = (method: 'GET' | 'POST', url: string, headers: Record<string, string>, payload?: unknown) =>
  t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

describe('users and sign-in', () => {
  it('creates users with the company key or admin, never exposing the hash; duplicates are 409', async () => {
    const res = await inject('POST', '/api/v1/companies/acme/users', acme, {
      email: 'Ana@Acme.test',
      password: 'correct horse battery',
      name: 'Ana',
    });
    expect(res.statusCode).toBe(201);
    const { user } = res.json();
    expect(user).toMatchObject({ company_id: 'acme', email: 'ana@acme.test', name: 'Ana' });
    expect(JSON.stringify(res.json())).not.toMatch(/scrypt|password/);
    const dup = await inject('POST', '/api/v1/companies/acme/users', t.admin, {
      email: 'ana@acme.test',
      password: 'another password',
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('SB_ERR_USER_EXISTS');
    const list = await inject('GET', '/api/v1/companies/acme/users', acme);
    expect(list.json().users.map((u: { email: string }) => u.email)).toEqual(['ana@acme.test']);
  });

  it('validates input and hides foreign companies', async () => {
    const bad = await inject('POST', '/api/v1/companies/acme/users', acme, {
      email: 'nope',
      password: 'short',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('SB_ERR_VALIDATION');
    const foreign = await inject('POST', '/api/v1/companies/globex/users', acme, {
      email: 'x@globex.test',
      password: 'long enough password',
    });
    expect(foreign.statusCode).toBe(404);
    const missing = await inject('POST', '/api/v1/companies/nowhere/users', t.admin, {
      email: 'x@nowhere.test',
      password: 'long enough password',
    });
    expect(missing.statusCode).toBe(404);
  });

  it('signs in with a JWT that authenticates as the company; /me shows the user', async () => {
    const login = await inject(
      'POST',
      '/api/auth/login',
      {},
      { email: 'ANA@acme.test', password: 'correct horse battery' },
    );
    expect(login.statusCode).toBe(200);
    const { token, user } = login.json();
    expect(token.split('.')).toHaveLength(3);
    expect(user.last_login_at).not.toBeNull();
    const me = await inject('GET', '/api/auth/me', { authorization: `Bearer ${token}` });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({
      user: { email: 'ana@acme.test' },
      principal: { kind: 'company', company_id: 'acme' },
    });
    // A user holds the user role (no admin scope): it lists no users, of its company or any other, and creates none.
    for (const company of ['acme', 'globex']) {
      const listed = await inject('GET', `/api/v1/companies/${company}/users`, {
        authorization: `Bearer ${token}`,
      });
      expect(listed.statusCode).toBe(403);
      expect(listed.json().error.code).toBe('SB_ERR_SCOPE_MISSING');
    }
    const create = await inject(
      'POST',
      '/api/v1/companies/acme/users',
      { authorization: `Bearer ${token}` },
      {
        email: 'eve@acme.test',
        password: 'long enough password',
      },
    );
    expect(create.statusCode).toBe(403);
    // A tampered token is refused.
    // The signature's first character is changed (the last one carries unused bits: changing only those would leave
    // the same signature, and the check would pass by chance).
    const sig = token.lastIndexOf('.') + 1;
    const tampered = `${token.slice(0, sig)}${token[sig] === 'A' ? 'B' : 'A'}${token.slice(sig + 1)}`;
    const bad = await inject('GET', '/api/auth/me', { authorization: `Bearer ${tampered}` });
    expect(bad.statusCode).toBe(401);
    const apiKeyMe = await inject('GET', '/api/auth/me', acme);
    expect(apiKeyMe.json()).toMatchObject({ user: null, principal: { kind: 'company', company_id: 'acme' } });
  });

  it('answers a wrong password and an unknown email identically, and rate limits per email', async () => {
    await inject('POST', '/api/v1/companies/globex/users', t.admin, {
      email: 'bob@globex.test',
      password: 'bob password 1',
    });
    const wrong = await inject('POST', '/api/auth/login', {}, { email: 'bob@globex.test', password: 'nope' });
    const unknown = await inject(
      'POST',
      '/api/auth/login',
      {},
      { email: 'ghost@globex.test', password: 'nope' },
    );
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.body).toBe(unknown.body);
    // LOGIN_RATE_LIMIT_MAX=3: the third and fourth attempts for bob go over the limit (one was used above).
    await inject('POST', '/api/auth/login', {}, { email: 'bob@globex.test', password: 'nope' });
    await inject('POST', '/api/auth/login', {}, { email: 'bob@globex.test', password: 'nope' });
    const limited = await inject(
      'POST',
      '/api/auth/login',
      {},
      { email: 'bob@globex.test', password: 'bob password 1' },
    );
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('SB_ERR_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another account is not affected.
    const ok = await inject(
      'POST',
      '/api/auth/login',
      {},
      { email: 'ana@acme.test', password: 'correct horse battery' },
    );
    expect(ok.statusCode).toBe(200);
    const badBody = await inject('POST', '/api/auth/login', {}, { email: 'ana@acme.test' });
    expect(badBody.statusCode).toBe(400);
  });
});
