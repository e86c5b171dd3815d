// The auth state over SQL with Baileys' own creds, BufferJSON and key types; each keys.set atomic, crash-safe.
import { Curve, initAuthCreds, proto, type SignalDataSet, signedKeyPair } from 'baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, seedInstance, type TestDb } from '../../../test/support/db.js';
import type { WhatsAppAuthRepo } from '../../ports/whatsapp-auth.js';
import { useDbAuthState, WhatsAppAuthStore } from './auth-store.js';

describe('WhatsApp auth state in SQL', () => {
  let db: TestDb;
  let store: WhatsAppAuthStore;
  let instanceId = '';

  const newInstance = async (): Promise<string> =>
    (await seedInstance(db.store, { company_id: 'wa-auth', provider: 'whatsapp' })).id;

  beforeAll(async () => {
    db = await openTestDb();
    store = new WhatsAppAuthStore(db.store.whatsappAuth);
    instanceId = await newInstance();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('round-trips Baileys creds (Buffers included) and starts fresh when none are saved', async () => {
    expect(await store.loadCreds(instanceId)).toBeNull();
    const a = await useDbAuthState(store, instanceId);
    expect(a.registered).toBe(false);
    a.state.creds.me = { id: '15550001111:3@s.whatsapp.net', name: 'Test' };
    a.state.creds.account = { details: Buffer.from([1, 2, 3]), accountSignature: Buffer.from([4]) };
    await a.saveCreds();
    const b = await useDbAuthState(store, instanceId);
    expect(b.registered).toBe(true);
    expect(Buffer.isBuffer(b.state.creds.noiseKey.private)).toBe(true);
    expect(
      Buffer.from(b.state.creds.noiseKey.private).equals(Buffer.from(a.state.creds.noiseKey.private)),
    ).toBe(true);
    expect(b.state.creds.signedPreKey.keyId).toBe(a.state.creds.signedPreKey.keyId);
    expect(b.state.creds.me?.id).toBe('15550001111:3@s.whatsapp.net');
  });

  it('stores every key type, revives app-state-sync-key as a proto, and null deletes', async () => {
    const pre = Curve.generateKeyPair();
    const signed = signedKeyPair(initAuthCreds().signedIdentityKey, 7);
    const set: SignalDataSet = {
      'pre-key': { '1': pre, '2': Curve.generateKeyPair() },
      session: { '4915112345678.0': Buffer.from('session-bytes') },
      'sender-key-memory': { 'g1@g.us': { '4915112345678@s.whatsapp.net': true } },
      'app-state-sync-key': {
        AAAA: proto.Message.AppStateSyncKeyData.fromObject({ keyData: Buffer.from([9, 9]), timestamp: 5 }),
      },
      'lid-mapping': { '4915112345678': '123456789' },
    };
    await store.setKeys(instanceId, set);
    const got = await store.getKeys(instanceId, 'pre-key', ['1', '2', '3']);
    expect(Object.keys(got).sort()).toEqual(['1', '2']);
    expect(Buffer.from(got['1']!.public).equals(Buffer.from(pre.public))).toBe(true);
    const app = await store.getKeys(instanceId, 'app-state-sync-key', ['AAAA']);
    expect(app.AAAA).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
    expect(Buffer.from(app.AAAA!.keyData!).equals(Buffer.from([9, 9]))).toBe(true);
    expect(await store.getKeys(instanceId, 'lid-mapping', ['4915112345678'])).toEqual({
      '4915112345678': '123456789',
    });
    expect(signed.keyId).toBe(7);
    // an update and a delete in one call
    await store.setKeys(instanceId, { 'pre-key': { '1': null, '2': pre } });
    const after = await store.getKeys(instanceId, 'pre-key', ['1', '2']);
    expect(Object.keys(after)).toEqual(['2']);
    expect(Buffer.from(after['2']!.public).equals(Buffer.from(pre.public))).toBe(true);
  });

  it('writes a batch of 812 prekeys (a new device) in one statement set', async () => {
    const id = await newInstance();
    const batch: Record<string, ReturnType<typeof Curve.generateKeyPair>> = {};
    for (let i = 1; i <= 812; i++) batch[String(i)] = Curve.generateKeyPair();
    await store.setKeys(id, { 'pre-key': batch });
    expect(await store.countKeys(id)).toBe(812);
  });

  it('a crash in the middle of keys.set leaves nothing of it behind, and the state still loads', async () => {
    const id = await newInstance();
    const base = await useDbAuthState(store, id, { cache: false });
    await base.saveCreds();
    await store.setKeys(id, { 'pre-key': { '1': Curve.generateKeyPair() } });
    // A write that dies in the database after its delete part ran: the last key is written twice in one
    // statement, which PostgreSQL refuses (ON CONFLICT cannot affect a row a second time).
    const real = db.store.whatsappAuth;
    const crashing: WhatsAppAuthRepo = {
      ...real,
      setKeys: (instance, writes) => real.setKeys(instance, [...writes, writes[writes.length - 1]!]),
    };
    const broken = new WhatsAppAuthStore(crashing);
    await expect(
      broken.setKeys(id, {
        'pre-key': { '1': null, '2': Curve.generateKeyPair(), '3': Curve.generateKeyPair() },
      }),
    ).rejects.toThrow(/second time/);
    // the delete of key 1 (first statement) was rolled back with the failed insert
    expect(Object.keys(await store.getKeys(id, 'pre-key', ['1', '2', '3']))).toEqual(['1']);
    const again = await useDbAuthState(store, id);
    expect(
      Buffer.from(again.state.creds.noiseKey.public).equals(Buffer.from(base.state.creds.noiseKey.public)),
    ).toBe(true);
    expect(Object.keys(await again.state.keys.get('pre-key', ['1']))).toEqual(['1']);
  });

  it('concurrent creds saves never leave an older snapshot last', async () => {
    const id = await newInstance();
    const a = await useDbAuthState(store, id);
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      a.state.creds.nextPreKeyId = i;
      saves.push(a.saveCreds());
    }
    await Promise.all(saves);
    expect((await store.loadCreds(id))?.nextPreKeyId).toBe(20);
  });

  it('wipe removes creds and keys; clearKeys removes only the given types; instance deletion cascades', async () => {
    const id = await newInstance();
    const s = await useDbAuthState(store, id);
    await s.saveCreds();
    await store.setKeys(id, {
      session: { a: Buffer.from('x') },
      'pre-key': { '1': Curve.generateKeyPair() },
    });
    await store.clearKeys(id, ['session']);
    expect(await store.countKeys(id)).toBe(1);
    await store.wipe(id);
    expect(await store.loadCreds(id)).toBeNull();
    expect(await store.countKeys(id)).toBe(0);
    await s.saveCreds();
    await store.setKeys(id, { session: { a: Buffer.from('x') } });
    await db.store.instances.delete(id);
    expect(await store.loadCreds(id)).toBeNull();
    expect(await store.countKeys(id)).toBe(0);
  });
});
