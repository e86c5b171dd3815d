// Storage contract for WhatsApp auth state (creds, Signal keys, media refs as text), per instance, every backend.
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends, seedInstance } from '../../test/support/db.js';
import type { Store } from '../ports/store.js';

describeOnBackends('WhatsApp auth repository', (db) => {
  let store: Store;
  const newInstance = async () => (await seedInstance(store, { company_id: 'wa1', provider: 'whatsapp' })).id;
  const keysOf = async (id: string, type: string, ids: string[]) =>
    Object.fromEntries((await store.whatsappAuth.getKeys(id, type, ids)).map((r) => [r.key_id, r.value]));

  beforeAll(async () => {
    store = db.store;
  });

  it('creds: null until saved, then the latest save, per instance', async () => {
    const [a, b] = [await newInstance(), await newInstance()];
    expect(await store.whatsappAuth.loadCreds(a)).toBeNull();
    await store.whatsappAuth.saveCreds(a, '{"v":1}');
    await store.whatsappAuth.saveCreds(a, '{"v":2}');
    expect(await store.whatsappAuth.loadCreds(a)).toBe('{"v":2}');
    expect(await store.whatsappAuth.loadCreds(b)).toBeNull();
  });

  it('setKeys writes and deletes in one call; getKeys returns only stored ids of the type and instance', async () => {
    const [a, b] = [await newInstance(), await newInstance()];
    expect(await store.whatsappAuth.getKeys(a, 'pre-key', [])).toEqual([]);
    await store.whatsappAuth.setKeys(a, []);
    await store.whatsappAuth.setKeys(a, [
      { type: 'pre-key', key_id: '1', value: 'p1' },
      { type: 'pre-key', key_id: '2', value: 'p2' },
      { type: 'session', key_id: '1', value: 's1' },
    ]);
    await store.whatsappAuth.setKeys(b, [{ type: 'pre-key', key_id: '1', value: 'other' }]);
    expect(await keysOf(a, 'pre-key', ['1', '2', '3'])).toEqual({ '1': 'p1', '2': 'p2' });
    expect(await keysOf(a, 'session', ['1', '2'])).toEqual({ '1': 's1' });
    // update one, delete one, in the same call; deleting a missing key is fine
    await store.whatsappAuth.setKeys(a, [
      { type: 'pre-key', key_id: '1', value: null },
      { type: 'pre-key', key_id: '2', value: 'p2b' },
      { type: 'pre-key', key_id: '9', value: null },
    ]);
    expect(await keysOf(a, 'pre-key', ['1', '2'])).toEqual({ '2': 'p2b' });
    expect(await keysOf(a, 'session', ['1'])).toEqual({ '1': 's1' });
    expect(await keysOf(b, 'pre-key', ['1'])).toEqual({ '1': 'other' });
    expect(await store.whatsappAuth.countKeys(a)).toBe(2);
    expect(await store.whatsappAuth.countKeys(b)).toBe(1);
  });

  it('a setKeys that fails leaves nothing of it behind (its deletes included)', async () => {
    const a = await newInstance();
    await store.whatsappAuth.setKeys(a, [{ type: 'pre-key', key_id: '1', value: 'p1' }]);
    // The same key twice in one write is refused by the database after the delete part ran.
    await expect(
      store.whatsappAuth.setKeys(a, [
        { type: 'pre-key', key_id: '1', value: null },
        { type: 'pre-key', key_id: '2', value: 'x' },
        { type: 'pre-key', key_id: '2', value: 'y' },
      ]),
    ).rejects.toThrow();
    expect(await keysOf(a, 'pre-key', ['1', '2'])).toEqual({ '1': 'p1' });
  });

  it('clearKeys removes the given types or all; wipe removes creds and keys of that instance only', async () => {
    const [a, b] = [await newInstance(), await newInstance()];
    for (const id of [a, b]) {
      await store.whatsappAuth.saveCreds(id, 'c');
      await store.whatsappAuth.setKeys(id, [
        { type: 'session', key_id: '1', value: 's' },
        { type: 'sender-key', key_id: '1', value: 'k' },
        { type: 'pre-key', key_id: '1', value: 'p' },
      ]);
    }
    await store.whatsappAuth.clearKeys(a, ['session', 'sender-key']);
    expect(await store.whatsappAuth.countKeys(a)).toBe(1);
    await store.whatsappAuth.clearKeys(a);
    expect(await store.whatsappAuth.countKeys(a)).toBe(0);
    expect(await store.whatsappAuth.loadCreds(a)).toBe('c');
    await store.whatsappAuth.setKeys(a, [{ type: 'pre-key', key_id: '1', value: 'p' }]);
    await store.whatsappAuth.wipe(a);
    expect(await store.whatsappAuth.loadCreds(a)).toBeNull();
    expect(await store.whatsappAuth.countKeys(a)).toBe(0);
    expect(await store.whatsappAuth.loadCreds(b)).toBe('c');
    expect(await store.whatsappAuth.countKeys(b)).toBe(3);
  });

  it('media refs: the first stored wins, null when unknown, deleted with the instance', async () => {
    const a = await newInstance();
    expect(await store.whatsappAuth.loadMediaRef(a, 'M1')).toBeNull();
    await store.whatsappAuth.saveMediaRef(a, 'M1', 'first');
    await store.whatsappAuth.saveMediaRef(a, 'M1', 'second');
    expect(await store.whatsappAuth.loadMediaRef(a, 'M1')).toBe('first');
    await store.whatsappAuth.saveCreds(a, 'c');
    await store.whatsappAuth.setKeys(a, [{ type: 'pre-key', key_id: '1', value: 'p' }]);
    await store.instances.delete(a);
    expect(await store.whatsappAuth.loadMediaRef(a, 'M1')).toBeNull();
    expect(await store.whatsappAuth.loadCreds(a)).toBeNull();
    expect(await store.whatsappAuth.countKeys(a)).toBe(0);
  });

  it('inside a transaction, a rollback discards the writes', async () => {
    const a = await newInstance();
    await expect(
      store.tx(async (tx) => {
        await tx.whatsappAuth.saveCreds(a, 'c');
        await tx.whatsappAuth.setKeys(a, [{ type: 'pre-key', key_id: '1', value: 'p' }]);
        expect(await tx.whatsappAuth.countKeys(a)).toBe(1);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.whatsappAuth.loadCreds(a)).toBeNull();
    expect(await store.whatsappAuth.countKeys(a)).toBe(0);
  });
});
