// Legacy import: the seeds' old layout (fixture SQL) moves into ours, idempotently, and a dry run writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../test/support/db.js';
import { dropLegacyFixture, LEGACY_I1 as I1, loadLegacyFixture } from '../../test/support/legacy.js';
import { KeyResolver } from '../core/keys.js';
import { formatReport, importLegacy } from './import-legacy.js';

const I3 = '33333333-3333-4333-8333-333333333333';

describe('import-legacy', () => {
  let db: TestDb;
  let legacy: string;

  beforeAll(async () => {
    db = await openTestDb();
    legacy = await loadLegacyFixture(db.driver);
  });

  afterAll(async () => {
    if (db) await dropLegacyFixture(db.driver, legacy).catch(() => {});
    await db?.close();
  });

  it('reports what it would do on a dry run and writes nothing', async () => {
    const r = await importLegacy(db.store, legacy, { dryRun: true });
    expect(r).toMatchObject({
      dry_run: true,
      companies: { created: 2 },
      instances: { found: 4, imported: 3, already_present: 0, skipped_invalid_company: 1 },
      messages: { found: 5, imported: 4, already_present: 0, orphaned: 1 },
      api_keys: { found: 2, imported: 2 },
    });
    expect(await db.store.instances.get(I1)).toBeNull();
    expect(await db.store.companies.get('962302')).toBeNull();
  });

  it('imports instances (user_id → company_id), messages and hashed keys', async () => {
    const r = await importLegacy(db.store, legacy);
    expect(r.instances).toEqual({ found: 4, imported: 3, already_present: 0, skipped_invalid_company: 1 });
    expect(r.messages).toMatchObject({ imported: 4 });
    const lines = formatReport(r).join('\n');
    expect(lines).toContain('imported: 3');
    expect(lines).not.toContain('legacy-key-one');

    const one = (await db.store.instances.get(I1))!;
    expect(one).toMatchObject({
      company_id: '962302',
      provider: 'whatsapp',
      type_instance: ['api', 'mcp'],
      desired_state: 'stopped',
      auth_status: 'pending',
      mcp_schema: { tools: ['send_message'] },
    });
    // The seeds' webhook becomes the instance's webhook endpoint, signed with a new secret.
    expect(await db.store.deliveries.instanceEndpoint(I1, 'webhook')).toMatchObject({
      company_id: '962302',
      url: 'https://hooks.example.com/wa',
      events: ['message'],
      enabled: true,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    });
    expect(
      await db.store.deliveries.instanceEndpoint('22222222-2222-4222-8222-222222222222', 'webhook'),
    ).toBeNull();
    expect(one.settings).toEqual({ legacy: { port_api: 3001, port_mcp: 4001, provider: 'whatsappweb' } });
    expect((await db.store.instances.get('22222222-2222-4222-8222-222222222222'))?.provider).toBe('telegram');
    expect(await db.store.instances.get('44444444-4444-4444-8444-444444444444')).toBeNull();

    const page = await db.store.messages.list({ instance_id: I1, limit: 10 });
    expect(page.items).toHaveLength(3);
    const hello = (await db.store.messages.getByMessageId(I1, 'ABC1'))!;
    expect(hello).toMatchObject({
      company_id: '962302',
      body: 'hello from the old days',
      status: 'received',
    });
    expect(hello.timestamp).toBe('2025-03-01T10:00:00.000Z');
    // Millisecond timestamps are recognised too.
    expect((await db.store.messages.getByMessageId(I1, 'ABC2'))?.timestamp).toBe('2025-03-01T10:01:00.000Z');
    expect((await db.store.messages.getByMessageId(I1, 'ABC2'))?.status).toBe('sent');
    expect(await db.store.messages.count(I3)).toBe(1);

    // The old plaintext key keeps working as this instance's key.
    const who = await new KeyResolver(db.store, undefined).resolve('legacy-key-one-0123456789');
    expect(who).toMatchObject({ kind: 'instance', instanceId: I1, companyId: '962302' });
  });

  it('is idempotent: a second run imports nothing new', async () => {
    const r = await importLegacy(db.store, legacy);
    expect(r).toMatchObject({
      companies: { created: 0 },
      instances: { imported: 0, already_present: 3 },
      messages: { imported: 0, already_present: 4 },
      api_keys: { imported: 0 },
    });
    expect(await db.store.messages.count(I1)).toBe(3);
  });

  it('accepts the renamed column (company_id, seed 000) and refuses a bad schema name', async () => {
    await db.driver.query(`ALTER TABLE "${legacy}".message_instances RENAME COLUMN user_id TO company_id`);
    const r = await importLegacy(db.store, legacy, { dryRun: true });
    expect(r.instances).toMatchObject({ found: 4, already_present: 3 });
    await expect(importLegacy(db.store, 'Bad-Name')).rejects.toMatchObject({ code: 'SB_ERR_VALIDATION' });
    await expect(importLegacy(db.store, 'nothing_here')).rejects.toMatchObject({ code: 'SB_ERR_VALIDATION' });
  });
});
