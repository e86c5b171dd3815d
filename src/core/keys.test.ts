// Key resolution: a failed last-used update never fails the request, and it is reported, not swallowed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../test/support/db.js';
import { eventually } from '../../test/support/gateway.js';
import { generateKey, KeyResolver } from './keys.js';

let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => db?.close());

describe('KeyResolver last-used update', () => {
  it('records the use, and when the update fails still resolves and reports it with the key id', async () => {
    const insertAdminKey = async () => {
      const k = generateKey('admin');
      const rec = await db.store.keys.insert({
        kind: 'admin',
        prefix: k.prefix,
        hash: k.hash,
        company_id: null,
        instance_id: null,
        scopes: [],
        label: 'test',
      });
      return { ...k, id: rec.id };
    };
    const warnings: Array<{ obj: object; msg: string }> = [];
    const keys = new KeyResolver(db.store, undefined, Date.now, (obj, msg) => warnings.push({ obj, msg }));

    const used = await insertAdminKey();
    expect(await keys.resolve(used.key)).toEqual({ kind: 'admin', keyId: used.id });
    await eventually(async () => (await db.store.keys.findByHash(used.hash))?.last_used_at);

    // The database refuses every update of the keys table from now on: the update fails, the resolution does not.
    const other = await insertAdminKey();
    await db.driver.query(
      `CREATE FUNCTION "${db.schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'api_keys is read-only'; END $$`,
    );
    await db.driver.query(
      `CREATE TRIGGER refuse BEFORE UPDATE ON "${db.schema}".api_keys FOR EACH ROW EXECUTE FUNCTION "${db.schema}".refuse()`,
    );
    expect(await keys.resolve(other.key)).toEqual({ kind: 'admin', keyId: other.id });
    await eventually(() => warnings.length > 0);
    expect(warnings).toEqual([
      {
        obj: { key_id: other.id, err: expect.stringMatching(/api_keys is read-only/) },
        msg: 'could not record when a key was last used',
      },
    ]);
  });
});
