// Baileys auth state in PostgreSQL: creds in whatsapp_auth, Signal keys in whatsapp_keys, each keys.set one tx.
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
import type { SqlRunner, Store } from '../../ports/store.js';

/** The database surface the auth store needs: raw SQL, transactions and the quoted schema. */
export interface AuthDb {
  /** Quoted schema name, e.g. `"public"`. */
  readonly qschema: string;
  readonly sql: SqlRunner;
  /** Runs fn in one transaction; all statements through its runner commit or roll back together. */
  tx<T>(fn: (sql: SqlRunner) => Promise<T>): Promise<T>;
}

/** Adapts the gateway's Store port to {@link AuthDb}. */
export function authDbFromStore(store: Store): AuthDb {
  return { qschema: store.qschema, sql: store.sql, tx: (fn) => store.tx((repos) => fn(repos.sql)) };
}

type KeyType = keyof SignalDataTypeMap;

/** Signal key types that hold per-contact sessions (cleared after a `badSession` close). */
export const SESSION_KEY_TYPES: readonly KeyType[] = ['session', 'sender-key', 'sender-key-memory'];

const encode = (v: unknown): string => JSON.stringify(v, BufferJSON.replacer);
const decode = (s: string): unknown => JSON.parse(s, BufferJSON.reviver);

/** Per-instance creds and Signal keys in SQL. Every multi-row change is a single transaction. */
export class WhatsAppAuthStore {
  constructor(private readonly db: AuthDb) {}

  private get t() {
    return {
      auth: `${this.db.qschema}.whatsapp_auth`,
      keys: `${this.db.qschema}.whatsapp_keys`,
      media: `${this.db.qschema}.whatsapp_media`,
    };
  }

  /** The saved creds, or null when the instance never paired (or was wiped). */
  async loadCreds(instanceId: string): Promise<AuthenticationCreds | null> {
    const rows = await this.db.sql.query<{ creds: string }>(
      `SELECT creds FROM ${this.t.auth} WHERE instance_id = $1`,
      [instanceId],
    );
    return rows[0] ? (decode(rows[0].creds) as AuthenticationCreds) : null;
  }

  async saveCreds(instanceId: string, creds: AuthenticationCreds): Promise<void> {
    await this.db.sql.query(
      `INSERT INTO ${this.t.auth} (instance_id, creds, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (instance_id) DO UPDATE SET creds = EXCLUDED.creds, updated_at = now()`,
      [instanceId, encode(creds)],
    );
  }

  async getKeys<T extends KeyType>(
    instanceId: string,
    type: T,
    ids: string[],
  ): Promise<{ [id: string]: SignalDataTypeMap[T] }> {
    const out: { [id: string]: SignalDataTypeMap[T] } = {};
    if (ids.length === 0) return out;
    const rows = await this.db.sql.query<{ key_id: string; value: string }>(
      `SELECT key_id, value FROM ${this.t.keys} WHERE instance_id = $1 AND type = $2 AND key_id = ANY($3::text[])`,
      [instanceId, type, ids],
    );
    for (const r of rows) {
      let v = decode(r.value);
      if (type === 'app-state-sync-key' && v) {
        v = proto.Message.AppStateSyncKeyData.fromObject(v as Record<string, unknown>);
      }
      out[r.key_id] = v as SignalDataTypeMap[T];
    }
    return out;
  }

  /** Writes a whole key set in ONE transaction (`null` deletes); a failure leaves nothing of it behind. */
  async setKeys(instanceId: string, data: SignalDataSet): Promise<void> {
    const upType: string[] = [];
    const upId: string[] = [];
    const upValue: string[] = [];
    const del = new Map<string, string[]>();
    for (const [type, entries] of Object.entries(data)) {
      for (const [id, value] of Object.entries(entries ?? {})) {
        if (value === null || value === undefined) {
          del.set(type, [...(del.get(type) ?? []), id]);
        } else {
          upType.push(type);
          upId.push(id);
          upValue.push(encode(value));
        }
      }
    }
    if (upType.length === 0 && del.size === 0) return;
    await this.db.tx(async (sql) => {
      for (const [type, ids] of del) {
        await sql.query(
          `DELETE FROM ${this.t.keys} WHERE instance_id = $1 AND type = $2 AND key_id = ANY($3::text[])`,
          [instanceId, type, ids],
        );
      }
      if (upType.length > 0) {
        await sql.query(
          `INSERT INTO ${this.t.keys} (instance_id, type, key_id, value)
           SELECT $1::uuid, t, k, v FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, k, v)
           ON CONFLICT (instance_id, type, key_id) DO UPDATE SET value = EXCLUDED.value`,
          [instanceId, upType, upId, upValue],
        );
      }
    });
  }

  /** Deletes keys of the given types (all keys when omitted). */
  async clearKeys(instanceId: string, types?: readonly string[]): Promise<void> {
    if (types) {
      await this.db.sql.query(
        `DELETE FROM ${this.t.keys} WHERE instance_id = $1 AND type = ANY($2::text[])`,
        [instanceId, [...types]],
      );
    } else {
      await this.db.sql.query(`DELETE FROM ${this.t.keys} WHERE instance_id = $1`, [instanceId]);
    }
  }

  /** Removes creds and every key of the instance in one transaction (after a logout). */
  async wipe(instanceId: string): Promise<void> {
    await this.db.tx(async (sql) => {
      await sql.query(`DELETE FROM ${this.t.keys} WHERE instance_id = $1`, [instanceId]);
      await sql.query(`DELETE FROM ${this.t.auth} WHERE instance_id = $1`, [instanceId]);
    });
  }

  /** Keeps an inbound media message as received (its keys let the bytes be downloaded later). */
  async saveMediaRef(instanceId: string, messageId: string, raw: unknown): Promise<void> {
    await this.db.sql.query(
      `INSERT INTO ${this.t.media} (instance_id, message_id, raw) VALUES ($1, $2, $3)
       ON CONFLICT (instance_id, message_id) DO NOTHING`,
      [instanceId, messageId, encode(raw)],
    );
  }

  async loadMediaRef(instanceId: string, messageId: string): Promise<unknown | null> {
    const rows = await this.db.sql.query<{ raw: string }>(
      `SELECT raw FROM ${this.t.media} WHERE instance_id = $1 AND message_id = $2`,
      [instanceId, messageId],
    );
    return rows[0] ? decode(rows[0].raw) : null;
  }

  async countKeys(instanceId: string): Promise<number> {
    const rows = await this.db.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.t.keys} WHERE instance_id = $1`,
      [instanceId],
    );
    return Number(rows[0]?.n ?? 0);
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
