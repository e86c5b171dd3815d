// SQL of the warm pool (seed 004): pooled instances' counts, the one-statement claim, the wipe of a released
// instance, and company_connections (a company's one WhatsApp connection).
import type { GatewayEvent } from '../domain/model.js';
import { markQueued } from '../ports/deliveries.js';
import type {
  CompanyConnection,
  CompanyConnectionRepo,
  PoolBatchClaim,
  PoolClaim,
  PoolCounts,
  PoolRepo,
} from '../ports/pool.js';
import { outbox } from './batch-writes.js';
import { toEvent } from './event-repo.js';
import { isoReq } from './rows.js';
import type { SqlRunner } from './sql.js';

type Row = Record<string, any>;

const CONNECTION_COLS = `company_id, instance_id::text AS instance_id, source, created_at`;
const toConnection = (r: Row): CompanyConnection => ({
  company_id: r.company_id,
  instance_id: r.instance_id,
  source: r.source,
  created_at: isoReq(r.created_at),
});

/** company_connections over any connection or transaction; `s` is the quoted schema. */
export class SqlConnectionRepo implements CompanyConnectionRepo {
  constructor(
    private readonly sql: SqlRunner,
    private readonly s: string,
  ) {}

  async get(companyId: string): Promise<CompanyConnection | null> {
    const rows = await this.sql.query<Row>(
      `SELECT ${CONNECTION_COLS} FROM ${this.s}.company_connections WHERE company_id = $1`,
      [companyId],
    );
    return rows[0] ? toConnection(rows[0]) : null;
  }

  async byInstance(instanceId: string): Promise<CompanyConnection | null> {
    const rows = await this.sql.query<Row>(
      `SELECT ${CONNECTION_COLS} FROM ${this.s}.company_connections WHERE instance_id = $1`,
      [instanceId],
    );
    return rows[0] ? toConnection(rows[0]) : null;
  }

  async list(companyId?: string): Promise<CompanyConnection[]> {
    const rows = await this.sql.query<Row>(
      `SELECT ${CONNECTION_COLS} FROM ${this.s}.company_connections
        ${companyId === undefined ? '' : 'WHERE company_id = $1'} ORDER BY company_id`,
      companyId === undefined ? [] : [companyId],
    );
    return rows.map(toConnection);
  }

  async insert(companyId: string, instanceId: string, source: 'session' | 'pool'): Promise<boolean> {
    const rows = await this.sql.query(
      `INSERT INTO ${this.s}.company_connections (company_id, instance_id, source) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING RETURNING company_id`,
      [companyId, instanceId, source],
    );
    return rows.length === 1;
  }

  async deleteByInstance(instanceId: string): Promise<CompanyConnection | null> {
    const rows = await this.sql.query<Row>(
      `DELETE FROM ${this.s}.company_connections WHERE instance_id = $1 RETURNING ${CONNECTION_COLS}`,
      [instanceId],
    );
    return rows[0] ? toConnection(rows[0]) : null;
  }
}

/** The claimed instance's fields of a claim row. */
const toClaimed = (r: Row): PoolClaim['instance'] => ({
  id: r.id,
  name: r.name,
  qr: r.qr,
  status: r.status,
  auth_status: r.auth_status,
  account: r.account,
  provider: r.provider,
});

/** Tables holding an instance's history, emptied when a pooled instance goes back to the pool. */
const HISTORY_TABLES = [
  'messages',
  'chats',
  'contacts',
  'pending_acks',
  'whatsapp_media',
  'whatsapp_identities',
  'mcp_approvals',
  'mcp_audit',
] as const;

/** Migration 0018's copy of instances' old webhook and agent settings: an operator may have dropped it already. */
const HOOK_CONFIG_COPY = 'instance_hook_config_0018';

/** The warm pool's statements over any connection or transaction; `s` is the quoted schema. */
export class SqlPoolRepo implements PoolRepo {
  constructor(
    private readonly sql: SqlRunner,
    private readonly s: string,
  ) {}

  async counts(): Promise<PoolCounts> {
    const rows = await this.sql.query<Record<string, number>>(
      `SELECT count(*)::int AS size,
              count(*) FILTER (WHERE assigned_to IS NULL)::int AS free,
              count(*) FILTER (WHERE assigned_to IS NULL AND auth_status = 'qr_ready' AND qr IS NOT NULL)::int AS ready,
              count(*) FILTER (WHERE assigned_to IS NOT NULL)::int AS in_use
         FROM ${this.s}.instances WHERE is_pooled`,
    );
    const r = rows[0] ?? { size: 0, free: 0, ready: 0, in_use: 0 };
    return { size: Number(r.size), free: Number(r.free), ready: Number(r.ready), in_use: Number(r.in_use) };
  }

  async freeIds(): Promise<string[]> {
    const rows = await this.sql.query<{ id: string }>(
      `SELECT id::text AS id FROM ${this.s}.instances WHERE is_pooled AND assigned_to IS NULL ORDER BY created_at`,
    );
    return rows.map((r) => r.id);
  }

  async countFree(): Promise<number> {
    const rows = await this.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.s}.instances WHERE is_pooled AND assigned_to IS NULL`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  async claim(companyId: string): Promise<PoolClaim | null> {
    const s = this.s;
    const rows = await this.sql.query<Row>(
      `WITH claimed AS (
         UPDATE ${s}.instances SET assigned_to = $1, company_id = $1, updated_at = now()
          WHERE id = (SELECT id FROM ${s}.instances
                       WHERE is_pooled AND assigned_to IS NULL AND status = 'running'
                         AND auth_status = 'qr_ready' AND qr IS NOT NULL
                       ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING id, name, qr, status, auth_status, account, provider
       ), recorded AS (
         INSERT INTO ${s}.company_connections (company_id, instance_id, source)
         SELECT $1, id, 'pool' FROM claimed ON CONFLICT DO NOTHING RETURNING instance_id
       )
       SELECT c.id::text AS id, c.name, c.qr, c.status, c.auth_status, c.account, c.provider,
              (SELECT count(*)::int FROM recorded) AS recorded,
              (SELECT count(*)::int FROM ${s}.instances WHERE is_pooled AND assigned_to IS NULL) - 1
                AS free_after
         FROM claimed c`,
      [companyId],
    );
    const r = rows[0];
    if (!r) return null;
    return { instance: toClaimed(r), recorded: Number(r.recorded) === 1, freeAfter: Number(r.free_after) };
  }

  async claimAndAssign(
    companyIds: readonly string[],
  ): Promise<{ claims: PoolBatchClaim[]; events: GatewayEvent[]; freeAfter: number }> {
    if (companyIds.length === 0) return { claims: [], events: [], freeAfter: await this.countFree() };
    const s = this.s;
    // The n-th company without a connection is paired with the n-th oldest free instance; all CTEs share one
    // snapshot. The connection is inserted first and the instance assigned only for a recorded one, so a conflict
    // (a connection recorded meanwhile) leaves that instance free instead of needing a rollback.
    const rows = await this.sql.query<Row>(
      `WITH input AS (
         SELECT w.company_id, min(w.ord) AS ord,
                (SELECT c.instance_id FROM ${s}.company_connections c WHERE c.company_id = w.company_id) AS existing
           FROM unnest($1::text[]) WITH ORDINALITY AS w(company_id, ord) GROUP BY w.company_id
       ), want AS (
         SELECT company_id, row_number() OVER (ORDER BY ord) AS n FROM input WHERE existing IS NULL
       ), free AS (
         SELECT id, row_number() OVER (ORDER BY created_at, id) AS n
           FROM (SELECT id, created_at FROM ${s}.instances
                  WHERE is_pooled AND assigned_to IS NULL AND status = 'running'
                    AND auth_status = 'qr_ready' AND qr IS NOT NULL
                  ORDER BY created_at, id LIMIT (SELECT count(*) FROM want) FOR UPDATE SKIP LOCKED) f
       ), pair AS (
         SELECT w.company_id, f.id FROM want w JOIN free f USING (n)
       ), recorded AS (
         INSERT INTO ${s}.company_connections (company_id, instance_id, source)
         SELECT company_id, id, 'pool' FROM pair ORDER BY company_id
         ON CONFLICT DO NOTHING RETURNING company_id, instance_id
       ), claimed AS (
         UPDATE ${s}.instances i SET assigned_to = r.company_id, company_id = r.company_id, updated_at = now()
           FROM recorded r
          WHERE i.id = r.instance_id
          RETURNING i.id, i.name, i.qr, i.status, i.auth_status, i.account, i.provider, r.company_id AS claimed_by
       ), ev AS (
         INSERT INTO ${s}.events (type, instance_id, company_id, data)
         SELECT 'pool.assigned', c.id, c.claimed_by, jsonb_build_object('name', c.name, 'provider', c.provider)
           FROM claimed c JOIN input i ON i.company_id = c.claimed_by
          ORDER BY i.ord
         RETURNING id, type, instance_id, company_id, data, created_at
       ), outbox AS (${outbox(s)} RETURNING event_id)
       SELECT i.company_id, i.existing::text AS existing, c.id::text AS id, c.name, c.qr, c.status,
              c.auth_status, c.account, c.provider, p.company_id IS NOT NULL AND c.id IS NULL AS lost,
              e.id AS event_id, e.type AS event_type, e.data AS event_data, e.created_at AS event_created_at,
              COALESCE(e.id IN (SELECT event_id FROM outbox), false) AS event_queued,
              (SELECT count(*)::int FROM ${s}.instances WHERE is_pooled AND assigned_to IS NULL)
                - (SELECT count(*)::int FROM claimed) AS free_after
         FROM input i
         LEFT JOIN pair p ON p.company_id = i.company_id
         LEFT JOIN claimed c ON c.claimed_by = i.company_id
         LEFT JOIN ev e ON e.company_id = i.company_id
        ORDER BY i.ord`,
      [companyIds],
    );
    const events: GatewayEvent[] = [];
    for (const r of rows) {
      if (r.event_id === null || r.event_id === undefined) continue;
      const ev = toEvent({
        id: r.event_id,
        type: r.event_type,
        instance_id: r.id,
        company_id: r.company_id,
        data: r.event_data,
        created_at: r.event_created_at,
      });
      events.push(r.event_queued ? markQueued(ev) : ev);
    }
    return {
      claims: rows.map((r) => ({
        company_id: r.company_id,
        existing: r.existing ?? null,
        instance: r.id ? toClaimed(r) : null,
        lost: r.lost === true,
      })),
      events,
      freeAfter: Number(rows[0]?.free_after ?? 0),
    };
  }

  async clearInstanceData(instanceId: string): Promise<void> {
    const s = this.s;
    // Deliveries before their endpoints, the order the delivery worker locks them in (no deadlock with it).
    await this.sql.query(
      `DELETE FROM ${s}.webhook_deliveries
        WHERE endpoint_id IN (SELECT id FROM ${s}.webhook_endpoints WHERE instance_id = $1)`,
      [instanceId],
    );
    await this.sql.query(`DELETE FROM ${s}.webhook_endpoints WHERE instance_id = $1`, [instanceId]);
    for (const table of HISTORY_TABLES) {
      await this.sql.query(`DELETE FROM ${s}.${table} WHERE instance_id = $1`, [instanceId]);
    }
    const [copy] = await this.sql.query<{ present: boolean }>(
      `SELECT to_regclass($1) IS NOT NULL AS present`,
      [`${s}.${HOOK_CONFIG_COPY}`],
    );
    if (copy?.present) {
      await this.sql.query(`DELETE FROM ${s}.${HOOK_CONFIG_COPY} WHERE instance_id = $1`, [instanceId]);
    }
  }

  async resetInstance(instanceId: string, poolCompanyId: string, name: string): Promise<void> {
    await this.sql.query(
      `UPDATE ${this.s}.instances SET company_id = $2, assigned_to = NULL, account = NULL, qr = NULL,
              last_error = NULL, name = $3, type_instance = ARRAY['api']::text[], settings = '{}'::jsonb,
              mcp_schema = '{}'::jsonb,
              updated_at = now()
        WHERE id = $1`,
      [instanceId, poolCompanyId, name],
    );
  }
}
