// The identities port: a WhatsApp contact's LID and phone JID, per instance, and merging what was stored under each.

/** One known LID ↔ phone pair. */
export interface IdentityPair {
  /** `<digits>@lid` (device suffix dropped). */
  lid: string;
  /** `<digits>@s.whatsapp.net` (device suffix dropped). */
  pn: string;
}

/** Result of {@link IdentityStore.link}. */
export interface LinkResult {
  /** True when the pair was new (or replaced an older pairing of the LID or the phone). */
  changed: boolean;
  /** Rows moved from the LID to the phone JID (messages, chats, contacts) by the merge that followed. */
  merged: { messages: number; chats: number; contacts: number };
}

/** LID ↔ phone JID pairs of an instance. Every write is one transaction. */
export interface IdentityStore {
  /**
   * Records that `lid` and `pn` are one person and merges everything stored under the LID (chat, messages' chat,
   * sender and recipient, contact) into the phone JID. Idempotent: a known pair changes nothing.
   */
  link(instanceId: string, pair: IdentityPair): Promise<LinkResult>;
  /** The phone JID of a LID, or null when not known. */
  pnForLid(instanceId: string, lid: string): Promise<string | null>;
  /** The LID of a phone JID, or null when not known. */
  lidForPn(instanceId: string, pn: string): Promise<string | null>;
}
