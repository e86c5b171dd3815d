// The group-committed write of sends' pending rows: many sends, one INSERT statement, one WAL flush.
import type { OutboundInsert, OutboundOutcome, Store } from '../ports/store.js';
import { GroupCommitter } from './group-commit.js';

/** Per send: its row inserted, the row its Idempotency-Key already names, or null (the instance row moved). */
export type SendWriteResult = OutboundOutcome | null;

export interface SendWriterOptions {
  /** Most pending rows in one statement (default 500). */
  maxBatch?: number;
}

/**
 * Creates the writer of pending rows. Sends that arrive while one INSERT runs are written together by the next
 * (`messages.insertOutboundMany`, atomic as one statement); each resolves once its row is committed, so a send
 * still calls its provider only after its row is durable. A batch refused as a whole (a row whose instance was
 * deleted meanwhile) is retried one row at a time by the GroupCommitter, so only that send fails.
 */
export function createSendWriter(
  store: Store,
  opts: SendWriterOptions = {},
): GroupCommitter<OutboundInsert, SendWriteResult> {
  return new GroupCommitter((rows) => store.messages.insertOutboundMany(rows), opts);
}
