// The WhatsApp auth state port: creds, Signal keys and media references per instance, as serialised text.

/** One Signal key to write: `value` null deletes it. */
export interface AuthKeyWrite {
  type: string;
  key_id: string;
  value: string | null;
}

/**
 * Stored WhatsApp auth state. Values are opaque text (the provider serialises them); every method is one
 * statement, so a multi-row change commits whole or not at all.
 */
export interface WhatsAppAuthRepo {
  /** The saved creds, or null when none. */
  loadCreds(instanceId: string): Promise<string | null>;
  saveCreds(instanceId: string, creds: string): Promise<void>;
  /** The stored keys of `type` among `ids` (missing ids are left out). */
  getKeys(
    instanceId: string,
    type: string,
    ids: readonly string[],
  ): Promise<Array<{ key_id: string; value: string }>>;
  /** Writes and deletes keys in one statement: all of it or (on failure) nothing. */
  setKeys(instanceId: string, writes: readonly AuthKeyWrite[]): Promise<void>;
  /** Deletes the keys of the given types (every key when omitted). */
  clearKeys(instanceId: string, types?: readonly string[]): Promise<void>;
  /** Deletes creds and every key of the instance in one statement. */
  wipe(instanceId: string): Promise<void>;
  /** Keeps a media message reference; the first one stored for a message id wins. */
  saveMediaRef(instanceId: string, messageId: string, raw: string): Promise<void>;
  loadMediaRef(instanceId: string, messageId: string): Promise<string | null>;
  countKeys(instanceId: string): Promise<number>;
}
