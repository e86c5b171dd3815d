// The inbound spool port: provider messages that could not be committed, kept durably until the database is back.
import type { ProviderMessage } from './provider.js';

/** One spooled inbound message with what is needed to store it later. */
export interface SpoolRecord {
  instance_id: string;
  company_id: string;
  message: ProviderMessage;
  /** ISO time it was spooled. */
  spooled_at: string;
}

/**
 * An append-only, bounded, durable queue of inbound messages. `append` resolves only once the record is on
 * stable storage (fsynced), so a provider acknowledged after it never loses the message, even across a crash.
 */
export interface MessageSpool {
  /** Appends and syncs one record; rejects with `SB_ERR_SPOOL_FULL` when a limit would be exceeded. */
  append(rec: SpoolRecord): Promise<void>;
  /**
   * Hands every pending record to `handler`, oldest first, one at a time. A record is done when the handler
   * resolves; the first rejection stops the replay (that record and the later ones stay pending) and is
   * rethrown. Resolves with the number of records handled. One replay runs at a time.
   */
  replay(handler: (rec: SpoolRecord) => Promise<void>): Promise<number>;
  /** Records not yet replayed. */
  readonly pending: number;
  /** Bytes the spool holds on storage. */
  readonly bytes: number;
  close(): Promise<void>;
}
