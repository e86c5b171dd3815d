// Baileys auth state over the WhatsApp auth port: Baileys' creds and Signal keys (de)serialised with BufferJSON.
import {
  type AuthenticationCreds,
  type AuthenticationState,
  BufferJSON,
  initAuthCreds,
  makeCacheableSignalKeyStore,
  proto,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
} from 'baileys';
import type { AuthKeyWrite, WhatsAppAuthRepo } from '../../ports/whatsapp-auth.js';

type KeyType = keyof SignalDataTypeMap;

/** Signal key types that hold per-contact sessions (cleared after a `badSession` close). */
export const SESSION_KEY_TYPES: readonly KeyType[] = ['session', 'sender-key', 'sender-key-memory'];

const encode = (v: unknown): string => JSON.stringify(v, BufferJSON.replacer);
const decode = (s: string): unknown => JSON.parse(s, BufferJSON.reviver);

/** Per-instance creds and Signal keys as Baileys types, stored through the port (each keys.set is atomic). */
export class WhatsAppAuthStore {
  constructor(private readonly repo: WhatsAppAuthRepo) {}

  /** The saved creds, or null when the instance never paired (or was wiped). */
  async loadCreds(instanceId: string): Promise<AuthenticationCreds | null> {
    const creds = await this.repo.loadCreds(instanceId);
    return creds === null ? null : (decode(creds) as AuthenticationCreds);
  }

  async saveCreds(instanceId: string, creds: AuthenticationCreds): Promise<void> {
    await this.repo.saveCreds(instanceId, encode(creds));
  }

  async getKeys<T extends KeyType>(
    instanceId: string,
    type: T,
    ids: string[],
  ): Promise<{ [id: string]: SignalDataTypeMap[T] }> {
    const out: { [id: string]: SignalDataTypeMap[T] } = {};
    if (ids.length === 0) return out;
    for (const r of await this.repo.getKeys(instanceId, type, ids)) {
      let v = decode(r.value);
      if (type === 'app-state-sync-key' && v) {
        v = proto.Message.AppStateSyncKeyData.fromObject(v as Record<string, unknown>);
      }
      out[r.key_id] = v as SignalDataTypeMap[T];
    }
    return out;
  }

  /** Writes a whole key set at once (`null` deletes); a failure leaves nothing of it behind. */
  async setKeys(instanceId: string, data: SignalDataSet): Promise<void> {
    const writes: AuthKeyWrite[] = [];
    for (const [type, entries] of Object.entries(data)) {
      for (const [id, value] of Object.entries(entries ?? {})) {
        writes.push({
          type,
          key_id: id,
          value: value === null || value === undefined ? null : encode(value),
        });
      }
    }
    if (writes.length === 0) return;
    await this.repo.setKeys(instanceId, writes);
  }

  /** Deletes keys of the given types (all keys when omitted). */
  async clearKeys(instanceId: string, types?: readonly string[]): Promise<void> {
    await this.repo.clearKeys(instanceId, types);
  }

  /** Removes creds and every key of the instance at once (after a logout). */
  async wipe(instanceId: string): Promise<void> {
    await this.repo.wipe(instanceId);
  }

  /** Keeps an inbound media message as received (its keys let the bytes be downloaded later). */
  async saveMediaRef(instanceId: string, messageId: string, raw: unknown): Promise<void> {
    await this.repo.saveMediaRef(instanceId, messageId, encode(raw));
  }

  async loadMediaRef(instanceId: string, messageId: string): Promise<unknown | null> {
    const raw = await this.repo.loadMediaRef(instanceId, messageId);
    return raw === null ? null : decode(raw);
  }

  countKeys(instanceId: string): Promise<number> {
    return this.repo.countKeys(instanceId);
  }
}

/** What sessions need of the auth store (the SQL one in production; tests may use an in-memory one). */
export type WhatsAppAuthPort = Pick<
  WhatsAppAuthStore,
  | 'loadCreds'
  | 'saveCreds'
  | 'getKeys'
  | 'setKeys'
  | 'clearKeys'
  | 'wipe'
  | 'countKeys'
  | 'saveMediaRef'
  | 'loadMediaRef'
>;

/** A live Baileys auth state bound to one instance. */
export interface DbAuthState {
  state: AuthenticationState;
  /** Saves the current creds; saves are serialised so an older snapshot never overwrites a newer one. */
  saveCreds(): Promise<void>;
  /** True when the creds belong to a paired device (a login without a QR is possible). */
  readonly registered: boolean;
}

/**
 * Loads (or initialises) the auth state of an instance. Keys are read through Baileys' in-memory cache
 * (`makeCacheableSignalKeyStore`); writes go to the database first.
 */
export async function useDbAuthState(
  store: WhatsAppAuthPort,
  instanceId: string,
  opts: { cache?: boolean } = {},
): Promise<DbAuthState> {
  const creds = (await store.loadCreds(instanceId)) ?? initAuthCreds();
  const raw: SignalKeyStore = {
    get: (type, ids) => store.getKeys(instanceId, type, ids),
    set: (data) => store.setKeys(instanceId, data),
    clear: () => store.clearKeys(instanceId),
  };
  let chain: Promise<void> = Promise.resolve();
  return {
    state: { creds, keys: opts.cache === false ? raw : makeCacheableSignalKeyStore(raw) },
    saveCreds() {
      // Saves run one after another. A failed save was already reported to its own caller (rejected); the next
      // one writes the whole creds again, so it runs either way.
      const save = () => store.saveCreds(instanceId, creds);
      const next = chain.then(save, save);
      chain = next;
      return next;
    },
    get registered() {
      return !!creds.me?.id && !!creds.account;
    },
  };
}
