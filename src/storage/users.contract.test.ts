// Storage contract of the users repository (storage/users.ts) on every backend: create, list, look up, sign-in stamp.
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends } from '../../test/support/db.js';
import type { Store } from '../ports/store.js';

describeOnBackends('users repository', (db) => {
  let store: Store;

  beforeAll(async () => {
    store = db.store;
    await store.companies.ensure('uc1');
    await store.companies.ensure('uc2');
  });

  it('creates a user with its email lower-cased and never returns the hash; a second email in any case is null', async () => {
    const u = await store.users.create({
      company_id: 'uc1',
      email: 'Ada@Example.COM',
      name: 'Ada',
      password_hash: 'scrypt$hash-a',
    });
    expect(u).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      company_id: 'uc1',
      email: 'ada@example.com',
      name: 'Ada',
      created_at: expect.any(String),
      last_login_at: null,
    });
    expect(u).not.toHaveProperty('password_hash');
    expect(Number.isNaN(Date.parse(u!.created_at))).toBe(false);
    // Unique across companies, compared case-insensitively.
    expect(
      await store.users.create({
        company_id: 'uc2',
        email: 'ADA@example.com',
        name: null,
        password_hash: 'x',
      }),
    ).toBeNull();
    expect(await store.users.get(u!.id)).toEqual(u);
  });

  it('lists only the company’s users, oldest first', async () => {
    const b = await store.users.create({
      company_id: 'uc1',
      email: 'b@example.com',
      name: null,
      password_hash: 'h',
    });
    const c = await store.users.create({
      company_id: 'uc2',
      email: 'c@example.com',
      name: 'C',
      password_hash: 'h',
    });
    const one = await store.users.listByCompany('uc1');
    expect(one.map((u) => u.email)).toEqual(['ada@example.com', 'b@example.com']);
    expect(one[1]).toEqual(b);
    expect(await store.users.listByCompany('uc2')).toEqual([c]);
    expect(await store.users.listByCompany('nobody')).toEqual([]);
  });

  it('finds a user for sign-in by lower-cased email, with its hash', async () => {
    const found = await store.users.findForLogin('ADA@EXAMPLE.com');
    expect(found).toMatchObject({
      email: 'ada@example.com',
      company_id: 'uc1',
      password_hash: 'scrypt$hash-a',
    });
    expect(await store.users.findForLogin('missing@example.com')).toBeNull();
  });

  it('stamps a sign-in and returns the updated user; an unknown id gives null', async () => {
    const before = (await store.users.findForLogin('ada@example.com'))!;
    const after = await store.users.recordLogin(before.id);
    expect(after?.id).toBe(before.id);
    expect(after?.last_login_at).not.toBeNull();
    expect(after).not.toHaveProperty('password_hash');
    expect((await store.users.get(before.id))?.last_login_at).toBe(after?.last_login_at);
    expect(await store.users.recordLogin('00000000-0000-4000-8000-000000000000')).toBeNull();
    expect(await store.users.get('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('works inside a transaction and rolls back with it', async () => {
    await expect(
      store.tx(async (tx) => {
        await tx.users.create({ company_id: 'uc1', email: 'tx@example.com', name: null, password_hash: 'h' });
        expect(await tx.users.findForLogin('tx@example.com')).not.toBeNull();
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.users.findForLogin('tx@example.com')).toBeNull();
  });
});
