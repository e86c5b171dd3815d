// The instances repository: rows, versions for the send cache, keyset listing, patches.
import type { Instance } from '../domain/model.js';
import type { InstancePatch, InstanceRepo } from '../ports/store.js';
import type { BatchWrites } from './batch-writes.js';
import { decodeCursor, encodeCursor, iso, isoReq, jsonParam as json } from './rows.js';
import type { Sql } from './sql.js';

type Row = Record<string, any>;

/** An instance row's version: its `updated_at` to the microsecond (the activity time does not move it). */
export const VERSION_OF = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;

export const INSTANCE_COLUMNS = `id::text AS id, company_id, name, provider, type_instance, status, auth_status, desired_state,
  account, qr, qr_updated_at, settings, mcp_schema, is_pooled, assigned_to, last_error,
  last_activity_at, created_at, updated_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_cursor,
  ${VERSION_OF('updated_at')} AS version`;

export const toInstance = (r: Row): Instance => ({
  id: r.id,
  company_id: r.company_id,
  name: r.name,
  provider: r.provider,
  type_instance: r.type_instance,
  status: r.status,
  auth_status: r.auth_status,
  desired_state: r.desired_state,
  account: r.account,
  qr: r.qr,
  qr_updated_at: iso(r.qr_updated_at),
  settings: r.settings ?? {},
  mcp_schema: r.mcp_schema ?? {},
  is_pooled: r.is_pooled,
  assigned_to: r.assigned_to,
  last_error: r.last_error,
  last_activity_at: iso(r.last_activity_at),
  created_at: isoReq(r.created_at),
  updated_at: isoReq(r.updated_at),
});

/** The instances repository over one SQL connection (`s`: the quoted schema). */
export function createInstanceRepo(sql: Sql, s: string, batch: BatchWrites): InstanceRepo {
  const instances: InstanceRepo = {
    async create(i) {
      const rows = await sql.query(
        `INSERT INTO ${s}.instances (company_id, provider, name, type_instance, settings, mcp_schema,
           desired_state, is_pooled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${INSTANCE_COLUMNS}`,
        [
          i.company_id,
          i.provider,
          i.name,
          i.type_instance,
          json(i.settings),
          json(i.mcp_schema),
          i.desired_state,
          i.is_pooled ?? false,
        ],
      );
      return toInstance(rows[0]);
    },
    async get(id) {
      const rows = await sql.query(`SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances WHERE id = $1`, [id]);
      return rows[0] ? toInstance(rows[0]) : null;
    },
    async getVersioned(id) {
      const rows = await sql.query(`SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances WHERE id = $1`, [id]);
      return rows[0] ? { instance: toInstance(rows[0]), version: String(rows[0].version) } : null;
    },
    async getForUpdate(id) {
      const rows = await sql.query(
        `SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances WHERE id = $1 FOR UPDATE`,
        [id],
      );
      return rows[0] ? toInstance(rows[0]) : null;
    },
    async list(f) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (cond: string, v: unknown) => {
        params.push(v);
        where.push(cond.replace('?', `$${params.length}`));
      };
      if (f.company_id !== undefined) add('company_id = ?', f.company_id);
      if (f.provider !== undefined) add('provider = ?', f.provider);
      if (f.status !== undefined) add('status = ?', f.status);
      if (f.auth_status !== undefined) add('auth_status = ?', f.auth_status);
      if (f.is_pooled !== undefined) add('is_pooled = ?', f.is_pooled);
      if (f.cursor) {
        const [at, id] = decodeCursor(f.cursor, 2);
        params.push(at, id);
        where.push(`(created_at, id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
      }
      params.push(f.limit + 1);
      const rows = await sql.query(
        `SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at, id LIMIT $${params.length}`,
        params,
      );
      const items = rows.slice(0, f.limit).map(toInstance);
      // The cursor keeps the full (microsecond) creation time so rows created in one millisecond are not repeated.
      const last = rows[f.limit - 1];
      return {
        items,
        next_cursor: rows.length > f.limit && last ? encodeCursor([last.created_cursor, last.id]) : null,
      };
    },
    async update(id, patch) {
      const sets: string[] = [];
      const params: unknown[] = [id];
      const jsonCols = new Set(['settings', 'mcp_schema']);
      for (const [k, v] of Object.entries(patch as InstancePatch)) {
        if (v === undefined) continue;
        params.push(jsonCols.has(k) ? json(v) : v);
        sets.push(`${k} = $${params.length}`);
        if (k === 'qr') sets.push(`qr_updated_at = ${v === null ? 'NULL' : 'now()'}`);
      }
      sets.push('updated_at = now()');
      const rows = await sql.query(
        `UPDATE ${s}.instances SET ${sets.join(', ')} WHERE id = $1 RETURNING ${INSTANCE_COLUMNS}`,
        params,
      );
      return rows[0] ? toInstance(rows[0]) : null;
    },
    async delete(id) {
      const rows = await sql.query(`DELETE FROM ${s}.instances WHERE id = $1 RETURNING id`, [id]);
      return rows.length > 0;
    },
    touchActivity: (id) => batch.touchActivityMany([id]),
    touchActivityMany: (ids) => batch.touchActivityMany(ids),
    async listDesiredRunning() {
      return (
        await sql.query(
          `SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances WHERE desired_state = 'running' ORDER BY created_at`,
        )
      ).map(toInstance);
    },
    async countForCompany(companyId) {
      // Locks the company row first, so concurrent creations for one company are counted one after another.
      await sql.query(`SELECT id FROM ${s}.companies WHERE id = $1 FOR UPDATE`, [companyId]);
      const rows = await sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${s}.instances WHERE company_id = $1`,
        [companyId],
      );
      return Number(rows[0]?.n ?? 0);
    },
  };
  return instances;
}
