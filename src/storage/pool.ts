// SQL of the warm pool (seed 004): pooled instances' counts, the one-statement claim, the wipe of a released
// instance, and company_connections (a company's one WhatsApp connection).
import type {
  CompanyConnection,
  CompanyConnectionRepo,
  PoolBatchClaim,
  PoolClaim,
  PoolCounts,
  PoolRepo,
} from '../ports/pool.js';
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

  async claimMany(companyIds: readonly string[]): Promise<{ claims: PoolBatchClaim[]; freeAfter: number }> {
    if (companyIds.length === 0) return { claims: [], freeAfter: await this.countFree() };
    const s = this.s;
    // The n-th company without a connection gets the n-th oldest free instance; all CTEs share one snapshot.
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
       ), claimed AS (
         UPDATE ${s}.instances i SET assigned_to = w.company_id, company_id = w.company_id, updated_at = now()
           FROM want w JOIN free f USING (n)
          WHERE i.id = f.id
          RETURNING i.id, i.name, i.qr, i.status, i.auth_status, i.account, i.provider, w.company_id AS claimed_by
       ), recorded AS (
         INSERT INTO ${s}.company_connections (company_id, instance_id, source)
         SELECT claimed_by, id, 'pool' FROM claimed ON CONFLICT DO NOTHING RETURNING company_id
       )
       SELECT i.company_id, i.existing::text AS existing, c.id::text AS id, c.name, c.qr, c.status,
              c.auth_status, c.account, c.provider, r.company_id IS NOT NULL AS recorded,
              (SELECT count(*)::int FROM ${s}.instances WHERE is_pooled AND assigned_to IS NULL)
                - (SELECT count(*)::int FROM claimed) AS free_after
         FROM input i
         LEFT JOIN claimed c ON c.claimed_by = i.company_id
         LEFT JOIN recorded r ON r.company_id = i.company_id
        ORDER BY i.ord`,
      [companyIds],
    );
    return {
      claims: rows.map((r) => ({
        company_id: r.company_id,
        existing: r.existing ?? null,
        instance: r.id ? toClaimed(r) : null,
        recorded: r.recorded === true,
      })),
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
