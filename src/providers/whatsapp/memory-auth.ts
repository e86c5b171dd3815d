// An in-memory WhatsApp auth port: for tests, contract runs and benchmarks (state is lost on exit).
import type { AuthenticationCreds, SignalDataSet, SignalDataTypeMap } from 'baileys';
import type { WhatsAppAuthPort } from './auth-store.js';

/** Keeps creds, Signal keys and media references in maps, keyed by instance. */
export class MemoryAuthStore implements WhatsAppAuthPort {
  private readonly creds = new Map<string, AuthenticationCreds>();
  private readonly keys = new Map<string, unknown>();
  private readonly media = new Map<string, unknown>();

  async loadCreds(id: string): Promise<AuthenticationCreds | null> {
    return this.creds.get(id) ?? null;
  }

  async saveCreds(id: string, c: AuthenticationCreds): Promise<void> {
    this.creds.set(id, structuredClone(c));
  }

  async getKeys<T extends keyof SignalDataTypeMap>(
    id: string,
    type: T,
    ids: string[],
  ): Promise<{ [k: string]: SignalDataTypeMap[T] }> {
    const out: { [k: string]: SignalDataTypeMap[T] } = {};
    for (const k of ids) {
      const v = this.keys.get(`${id}|${type}|${k}`);
      if (v !== undefined) out[k] = v as SignalDataTypeMap[T];
    }
    return out;
  }

  async setKeys(id: string, data: SignalDataSet): Promise<void> {
    for (const [type, entries] of Object.entries(data)) {
      for (const [k, v] of Object.entries(entries ?? {})) {
        if (v == null) this.keys.delete(`${id}|${type}|${k}`);
        else this.keys.set(`${id}|${type}|${k}`, v);
      }
    }
  }

  async clearKeys(id: string, types?: readonly string[]): Promise<void> {
    for (const k of [...this.keys.keys()]) {
      const [i, type] = k.split('|');
      if (i === id && (!types || types.includes(type!))) this.keys.delete(k);
    }
  }

  async wipe(id: string): Promise<void> {
    await this.clearKeys(id);
    this.creds.delete(id);
  }

  async countKeys(id: string): Promise<number> {
    return [...this.keys.keys()].filter((k) => k.startsWith(`${id}|`)).length;
  }

  async saveMediaRef(id: string, messageId: string, raw: unknown): Promise<void> {
    this.media.set(`${id}|${messageId}`, raw);
  }

  async loadMediaRef(id: string, messageId: string): Promise<unknown | null> {
    return this.media.get(`${id}|${messageId}`) ?? null;
  }
}
