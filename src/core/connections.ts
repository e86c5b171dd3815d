// A company's one WhatsApp connection (seed 003 session or seed 004 pooled instance), kept in company_connections.
import type { Repos, SqlRunner } from '../ports/store.js';

/** Which instance is a company's WhatsApp, and where it came from. */
export interface CompanyConnection {
  company_id: string;
  instance_id: string;
  source: 'session' | 'pool';
  created_at: string;
}

type Row = Record<string, any>;
const COLS = `company_id, instance_id::text AS instance_id, source, created_at`;
const toConnection = (r: Row): CompanyConnection => ({
  company_id: r.company_id,
  instance_id: r.instance_id,
  source: r.source,
  created_at: new Date(r.created_at).toISOString(),
});

/** Table access for company_connections over any connection or transaction. */
export class ConnectionRepo {
  constructor(
    private readonly sql: SqlRunner,
    private readonly s: string,
  ) {}

  static of(r: Pick<Repos, 'sql' | 'qschema'>): ConnectionRepo {
    return new ConnectionRepo(r.sql, r.qschema);
  }

  async get(companyId: string): Promise<CompanyConnection | null> {
    const rows = await this.sql.query<Row>(
      `SELECT ${COLS} FROM ${this.s}.company_connections WHERE company_id = $1`,
      [companyId],
    );
    return rows[0] ? toConnection(rows[0]) : null;
  }

  async byInstance(instanceId: string): Promise<CompanyConnection | null> {
    const rows = await this.sql.query<Row>(
      `SELECT ${COLS} FROM ${this.s}.company_connections WHERE instance_id = $1`,
      [instanceId],
    );
    return rows[0] ? toConnection(rows[0]) : null;
  }

  /** Every connection, or one company's. */
  async list(companyId?: string): Promise<CompanyConnection[]> {
    const rows = await this.sql.query<Row>(
      `SELECT ${COLS} FROM ${this.s}.company_connections ${companyId === undefined ? '' : 'WHERE company_id = $1'}
       ORDER BY company_id`,
      companyId === undefined ? [] : [companyId],
    );
    return rows.map(toConnection);
  }

  /** Records the connection unless the company already has one; false when it had (the caller rolls back). */
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
      `DELETE FROM ${this.s}.company_connections WHERE instance_id = $1 RETURNING ${COLS}`,
      [instanceId],
    );
    return rows[0] ? toConnection(rows[0]) : null;
  }
}

/** Thrown inside a transaction to roll it back when another request created the company's connection first. */
export class LostRace extends Error {
  constructor() {
    super('the company already has a connection');
    this.name = 'LostRace';
  }
}
