// The event log repository: appends with their outbox rows, reads since an id, QR coalescing, retention reads.
import type { GatewayEvent, NewLogEvent } from '../domain/model.js';
import type { EventRepo } from '../ports/store.js';
import type { BatchWrites } from './batch-writes.js';
import { isoReq } from './rows.js';
import type { Sql } from './sql.js';

type Row = Record<string, any>;

export const toEvent = (r: Row): GatewayEvent => ({
  id: Number(r.id),
  type: r.type,
  instance_id: r.instance_id,
  company_id: r.company_id,
  created_at: isoReq(r.created_at),
  data: r.data ?? {},
});

/** The events repository over one SQL connection (`s`: the quoted schema). */
export function createEventRepo(sql: Sql, s: string, batch: BatchWrites): EventRepo {
  const events: EventRepo = {
    async append(e: NewLogEvent) {
      return (await batch.appendEvents([e]))[0]!;
    },
    appendMany: (es) => batch.appendEvents(es),
    async listSince(f) {
      const params: unknown[] = [f.since];
      const where = ['id > $1'];
      if (f.company_id !== undefined) {
        params.push(f.company_id);
        where.push(`company_id = $${params.length}`);
      }
      if (f.instance_id !== undefined) {
        params.push(f.instance_id);
        where.push(`instance_id = $${params.length}`);
      }
      if (f.types?.length) {
        params.push(f.types);
        where.push(`type = ANY($${params.length}::text[])`);
      }
      if (f.exclude?.length) {
        params.push(f.exclude);
        where.push(`id <> ALL($${params.length}::bigint[])`);
      }
      params.push(f.limit);
      const rows = await sql.query(
        `SELECT id, type, instance_id::text AS instance_id, company_id, data, created_at FROM ${s}.events
         WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
        params,
      );
      return rows.map(toEvent);
    },
    async latestId() {
      const rows = await sql.query<{ id: number }>(
        `SELECT COALESCE(max(id), 0)::bigint AS id FROM ${s}.events`,
      );
      return Number(rows[0].id);
    },
    async recentIds(f) {
      // A backward scan of the primary key that stops at the first row old enough (only young rows are read).
      const top = await sql.query<{ id: number }>(
        `SELECT id FROM ${s}.events WHERE created_at <= $1 ORDER BY id DESC LIMIT 1`,
        [f.olderThan.toISOString()],
      );
      const settled = top[0] ? Number(top[0].id) : 0;
      const rows = await sql.query<{ id: number; created_at: unknown }>(
        `SELECT id, created_at FROM ${s}.events WHERE id > $1 ORDER BY id LIMIT $2`,
        [Math.max(f.after, settled), f.limit],
      );
      return { settled, ids: rows.map((r) => ({ id: Number(r.id), created_at: isoReq(r.created_at) })) };
    },
    async deleteOlderOfType(instanceId, type, beforeId) {
      const rows = await sql.query(
        `DELETE FROM ${s}.events WHERE instance_id = $1 AND type = $2 AND id < $3 RETURNING id`,
        [instanceId, type, beforeId],
      );
      if (rows.length) {
        // Their deliveries not yet made would describe a QR that no longer scans.
        await sql.query(
          `DELETE FROM ${s}.webhook_deliveries WHERE status = 'pending' AND event_id = ANY($1::bigint[])`,
          [rows.map((r) => Number(r.id))],
        );
      }
      return rows.length;
    },
  };
  return events;
}
