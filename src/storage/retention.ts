// Retention queries: delete old rows of one kind in one small batch (a short statement that skips locked rows).
import type { RetentionKind, RetentionRepo } from '../ports/retention.js';
import type { SqlRunner } from './sql.js';

/**
 * One DELETE per kind: rows older than $1, at most $2 of them, chosen with `FOR UPDATE SKIP LOCKED` so a row a
 * writer holds is skipped (never waited for) and writers wait at most for one small batch. Each runs on the pool,
 * outside any transaction, so its locks go at once. Events that a pending or dead delivery still needs stay until
 * that delivery is gone. Events go in id order (a walk of the primary key from its oldest end; ids are drawn in
 * creation order), so appends keep no index on created_at (migration 0020).
 */
function statement(kind: RetentionKind, s: string): string {
  switch (kind) {
    case 'events':
      return `DELETE FROM ${s}.events WHERE id IN (
        SELECT e.id FROM ${s}.events e WHERE e.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM ${s}.webhook_deliveries d WHERE d.event_id = e.id AND d.status <> 'delivered')
        ORDER BY e.id LIMIT $2 FOR UPDATE OF e SKIP LOCKED)`;
    case 'delivered':
      return `DELETE FROM ${s}.webhook_deliveries WHERE id IN (
        SELECT id FROM ${s}.webhook_deliveries WHERE status = 'delivered' AND delivered_at < $1
        ORDER BY delivered_at LIMIT $2 FOR UPDATE SKIP LOCKED)`;
    case 'dead':
      return `DELETE FROM ${s}.webhook_deliveries WHERE id IN (
        SELECT id FROM ${s}.webhook_deliveries WHERE status = 'failed' AND last_attempt_at < $1
        ORDER BY last_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)`;
    case 'pendingAcks':
      return `DELETE FROM ${s}.pending_acks WHERE (instance_id, message_id) IN (
        SELECT instance_id, message_id FROM ${s}.pending_acks WHERE created_at < $1
        ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`;
    case 'media':
      return `DELETE FROM ${s}.whatsapp_media WHERE (instance_id, message_id) IN (
        SELECT instance_id, message_id FROM ${s}.whatsapp_media WHERE created_at < $1
        ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`;
  }
}

/** Batch deletes for the retention job (works on the pool; never call it inside a long transaction). */
export class SqlRetentionRepo implements RetentionRepo {
  constructor(
    private readonly sql: SqlRunner,
    private readonly qschema: string,
  ) {}

  /** Deletes at most `limit` rows of `kind` older than `before`; returns how many went. */
  async deleteBatch(kind: RetentionKind, before: Date, limit: number): Promise<number> {
    const rows = await this.sql.query<{ n: number }>(
      `WITH gone AS (${statement(kind, this.qschema)} RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      [before.toISOString(), limit],
    );
    return Number(rows[0].n);
  }
}
