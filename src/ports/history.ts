// The history port: stores a messenger's chat history (sent after a link) without replaying it as new messages.
import type { ProviderMessage } from './provider.js';

/** What one stored history batch added. */
export interface HistoryBatchResult {
  /** Messages newly stored. */
  stored: number;
  /** Messages already stored before (same instance and message id): left as they were. */
  duplicates: number;
}

/** Stores history messages idempotently by (instance, message id), with their chats; publishes nothing. */
export interface HistoryStore {
  storeBatch(instanceId: string, messages: readonly ProviderMessage[]): Promise<HistoryBatchResult>;
}
