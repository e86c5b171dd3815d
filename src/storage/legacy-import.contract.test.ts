// Storage contract for the legacy import: the seeds' layout copied into ours, idempotent, and atomic in a transaction.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeOnBackends } from '../../test/support/db.js';
import { dropLegacyFixture, LEGACY_I1 as I1, loadLegacyFixture } from '../../test/support/legacy.js';

describeOnBackends('legacy import repository', (db) => {
  let legacy: string;

  beforeAll(async () => {
    legacy = await loadLegacyFixture(db.driver);
  });
  afterAll(async () => {
    if (db.driver) await dropLegacyFixture(db.driver, legacy);
  });

  it('inside a rolled-back transaction reports the counts and leaves nothing behind', async () => {
    let seen: unknown = null;
    await expect(
      db.store.tx(async (tx) => {
        seen = await tx.legacyImport.importFrom(legacy);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(seen).toEqual({
      from_schema: legacy,
      dry_run: false,
      companies: { created: 2 },
      instances: { found: 4, imported: 3, already_present: 0, skipped_invalid_company: 1 },
      messages: { found: 5, imported: 4, already_present: 0, orphaned: 1 },
      api_keys: { found: 2, imported: 2 },
    });
    expect(await db.store.instances.get(I1)).toBeNull();
    expect(await db.store.companies.get('962302')).toBeNull();
  });

  it('imports once; a second run finds everything already present', async () => {
    const first = await db.store.tx((tx) => tx.legacyImport.importFrom(legacy));
    expect(first.instances.imported).toBe(3);
    expect(await db.store.instances.get(I1)).toMatchObject({
      company_id: '962302',
      desired_state: 'stopped',
    });
    expect(await db.store.messages.count(I1)).toBe(3);
    const again = await db.store.tx((tx) => tx.legacyImport.importFrom(legacy));
    expect(again).toMatchObject({
      companies: { created: 0 },
      instances: { imported: 0, already_present: 3, skipped_invalid_company: 1 },
      messages: { imported: 0, already_present: 4, orphaned: 1 },
      api_keys: { found: 2, imported: 0 },
    });
    expect(await db.store.messages.count(I1)).toBe(3);
  });

  it('refuses a schema without message_instances, or one with neither user_id nor company_id', async () => {
    await expect(db.store.legacyImport.importFrom('no_such_schema')).rejects.toMatchObject({
      code: 'SB_ERR_VALIDATION',
    });
    const bare = `legacy_${randomBytes(5).toString('hex')}`;
    await db.driver.query(`CREATE SCHEMA "${bare}"`);
    try {
      await db.driver.query(`CREATE TABLE "${bare}".message_instances (id uuid PRIMARY KEY, name text)`);
      await expect(db.store.legacyImport.importFrom(bare)).rejects.toMatchObject({
        code: 'SB_ERR_VALIDATION',
      });
    } finally {
      await db.driver.query(`DROP SCHEMA "${bare}" CASCADE`);
    }
  });
});
