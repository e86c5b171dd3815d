// SQL for a company's users (the `users` table): create, list, look up, and stamp a sign-in.
import type { SqlRunner } from '../ports/store.js';
import type { NewUser, User, UserRepo } from '../ports/users.js';
import { iso, isoReq } from './rows.js';

type Row = Record<string, any>;
const COLS = 'id::text AS id, company_id, email, name, created_at, last_login_at';
const toUser = (r: Row): User => ({
  id: r.id,
  company_id: r.company_id,
  email: r.email,
  name: r.name,
  created_at: isoReq(r.created_at),
  last_login_at: iso(r.last_login_at),
});

/** Users over any connection or transaction; `s` is the quoted schema. */
export class SqlUserRepo implements UserRepo {
  constructor(
    private readonly sql: SqlRunner,
    private readonly s: string,
  ) {}

  async create(u: NewUser): Promise<User | null> {
    const rows = await this.sql.query<Row>(
      `INSERT INTO ${this.s}.users (company_id, email, name, password_hash) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING ${COLS}`,
      [u.company_id, u.email.toLowerCase(), u.name, u.password_hash],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }

  async listByCompany(companyId: string): Promise<User[]> {
    const rows = await this.sql.query<Row>(
      `SELECT ${COLS} FROM ${this.s}.users WHERE company_id = $1 ORDER BY created_at, id`,
      [companyId],
    );
    return rows.map(toUser);
  }

  async get(id: string): Promise<User | null> {
    const rows = await this.sql.query<Row>(`SELECT ${COLS} FROM ${this.s}.users WHERE id = $1`, [id]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async findForLogin(email: string): Promise<(User & { password_hash: string }) | null> {
    const rows = await this.sql.query<Row>(
      `SELECT ${COLS}, password_hash FROM ${this.s}.users WHERE lower(email) = $1`,
      [email.toLowerCase()],
    );
    return rows[0] ? { ...toUser(rows[0]), password_hash: rows[0].password_hash } : null;
  }

  async recordLogin(id: string): Promise<User | null> {
    const rows = await this.sql.query<Row>(
      `UPDATE ${this.s}.users SET last_login_at = now() WHERE id = $1 RETURNING ${COLS}`,
      [id],
    );
    return rows[0] ? toUser(rows[0]) : null;
  }
}
