// The key verification cache: a revoked or rotated key stops working at once, here and on every other replica.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../test/support/db.js';
import type { Principal } from '../domain/model.js';
import type { KeyRepo, Store } from '../ports/store.js';
import { MemoryEventBus } from './event-bus-memory.js';
import { CredentialService, KeyResolver } from './keys.js';

let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
  await db.store.companies.ensure('acme', 'Acme');
});
afterAll(async () => db?.close());

const admin: Principal = { kind: 'admin', keyId: null };
/** A frozen clock: nothing below relies on the cache's time limit. */
const frozen = () => 1_000_000;

/** One replica: its resolver and its credential service, on the bus the replicas share. */
function replica(bus: MemoryEventBus, store: Store = db.store) {
  const keys = new KeyResolver(store, undefined, frozen);
  const credentials = new CredentialService({ store, bus, resolver: keys });
  return { keys, credentials };
}

async function newInstance() {
  return db.store.instances.create({
    company_id: 'acme',
    provider: 'simulator',
    name: `cache-${Math.random()}`,
    type_instance: ['api'],
    settings: {},
    mcp_schema: {},
    desired_state: 'stopped',
  });
}

describe('key verification cache', () => {
  it('caches a verification: the key row is read once', async () => {
    let reads = 0;
    const keysRepo: KeyRepo = Object.assign(Object.create(db.store.keys) as KeyRepo, {
      findManyByHash: (hashes: readonly string[]) => {
        reads++;
        return db.store.keys.findManyByHash(hashes);
      },
    });
    const store = Object.assign(Object.create(db.store) as Store, { keys: keysRepo });
    const a = replica(new MemoryEventBus(), store);
    const { key } = await a.credentials.issueCompanyKey(admin, 'acme', {});
    expect(await a.keys.verify(key)).toMatchObject({ kind: 'company', companyId: 'acme' });
    expect(await a.keys.verify(key)).toMatchObject({ kind: 'company', companyId: 'acme' });
    expect(reads).toBe(1);
  });

  it('a revoked company key is refused at once by the replica that revoked it and by another one', async () => {
    const bus = new MemoryEventBus();
    const a = replica(bus);
    const b = replica(bus);
    const { key, api_key } = await a.credentials.issueCompanyKey(admin, 'acme', {});
    expect(await a.keys.verify(key)).not.toBeNull();
    expect(await b.keys.verify(key)).not.toBeNull();
    await a.credentials.revokeCompanyKey(admin, 'acme', api_key.id);
    expect(await a.keys.verify(key)).toBeNull();
    expect(await b.keys.verify(key)).toBeNull();
  });

  it('a rotated instance key is refused at once on every replica; the new one works', async () => {
    const bus = new MemoryEventBus();
    const a = replica(bus);
    const b = replica(bus);
    const inst = await newInstance();
    const old = await db.store.tx((tx) => a.credentials.insertInstanceKey(tx, inst));
    expect(await b.keys.verify(old)).toMatchObject({ kind: 'instance', instanceId: inst.id });
    const fresh = await a.credentials.rotateInstanceKey(admin, inst);
    expect(await a.keys.verify(old)).toBeNull();
    expect(await b.keys.verify(old)).toBeNull();
    expect(await b.keys.verify(fresh)).toMatchObject({ kind: 'instance', instanceId: inst.id });
  });

  it('a lookup still in flight when the key is revoked does not put it back in the cache', async () => {
    let hold: Promise<void> | null = null;
    let release = () => {};
    let read = () => {};
    const rowRead = new Promise<void>((r) => {
      read = r;
    });
    const keysRepo: KeyRepo = Object.assign(Object.create(db.store.keys) as KeyRepo, {
      findManyByHash: async (hashes: readonly string[]) => {
        const rec = await db.store.keys.findManyByHash(hashes);
        // The row was read before the revocation commits; the answer arrives after it.
        if (hold) {
          read();
          await hold;
        }
        return rec;
      },
    });
    const store = Object.assign(Object.create(db.store) as Store, { keys: keysRepo });
    const bus = new MemoryEventBus();
    const b = replica(bus, store);
    const a = replica(bus);
    const { key, api_key } = await a.credentials.issueCompanyKey(admin, 'acme', {});
    hold = new Promise<void>((r) => {
      release = r;
    });
    const inFlight = b.keys.verify(key);
    await rowRead;
    await a.credentials.revokeCompanyKey(admin, 'acme', api_key.id);
    hold = null;
    release();
    // The request that was already running when the key was revoked may pass; the next one may not.
    await inFlight;
    expect(await b.keys.verify(key)).toBeNull();
  });
});
