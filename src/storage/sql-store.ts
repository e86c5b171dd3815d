// The Store implemented once in SQL for both drivers; every statement is schema-qualified.
import type { Company } from '../domain/model.js';
import type { CompanyRepo, MetaRepo, Repos, Store } from '../ports/store.js';
import { createBatchWrites } from './batch-writes.js';
import { createChatRepos } from './chat-repo.js';
import { createClusterCommandRepo } from './cluster-commands.js';
import { SqlDeliveryRepo } from './deliveries.js';
import { createEventRepo, toEvent } from './event-repo.js';
import { HistoryRepo } from './history.js';
import { SqlIdentityStore } from './identities.js';
import { createInstanceRepo } from './instance-repo.js';
import { createKeyRepo } from './key-repo.js';
import { createLeaseRepo } from './leases.js';
import { createLegacyImport } from './legacy-import.js';
import { createMcpRepo } from './mcp.js';
import { createMessageRepo, MESSAGE_COLUMNS, toMessage } from './message-repo.js';
import { createMetricsQueries } from './metrics-queries.js';
import { pendingMigrations } from './migrate.js';
import { SqlConnectionRepo, SqlPoolRepo } from './pool.js';
import { SqlRetentionRepo } from './retention.js';
import { isoReq } from './rows.js';
import { type Driver, ident, type Sql } from './sql.js';
import { SqlUserRepo } from './users.js';
import { createWhatsAppAuthRepo } from './whatsapp-auth.js';

type Row = Record<string, any>;

/** Builds the repositories over one SQL connection (the pool, or a transaction's client). */
export function createRepos(sql: Sql, schema: string): Repos {
  const s = ident(schema);
  const batch = createBatchWrites({ sql, s, messageColumns: MESSAGE_COLUMNS, toMessage, toEvent });

  const companies: CompanyRepo = {
    async create(c) {
      const rows = await sql.query(
        `INSERT INTO ${s}.companies (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING *`,
        [c.id, c.name],
      );
      return rows[0] ? toCompany(rows[0]) : null;
    },
    async ensure(id, name) {
      await sql.query(`INSERT INTO ${s}.companies (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, [
        id,
        name ?? id,
      ]);
      return (await companies.get(id))!;
    },
    async get(id) {
      const rows = await sql.query(`SELECT * FROM ${s}.companies WHERE id = $1`, [id]);
      return rows[0] ? toCompany(rows[0]) : null;
    },
    async list() {
      return (await sql.query(`SELECT * FROM ${s}.companies ORDER BY id`)).map(toCompany);
    },
  };

  const instances = createInstanceRepo(sql, s, batch);
  const messages = createMessageRepo(sql, s, batch);
  const { chats, contacts } = createChatRepos(sql, s, batch);
  const events = createEventRepo(sql, s, batch);
  const keys = createKeyRepo(sql, s);
  const meta: MetaRepo = {
    async get(key) {
      const rows = await sql.query<{ value: string }>(`SELECT value FROM ${s}.gateway_meta WHERE key = $1`, [
        key,
      ]);
      return rows[0]?.value ?? null;
    },
    async setIfAbsent(key, value) {
      await sql.query(
        `INSERT INTO ${s}.gateway_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
        [key, value],
      );
      return (await meta.get(key))!;
    },
  };

  const mcp = createMcpRepo(sql, s);
  return {
    companies,
    instances,
    messages,
    chats,
    contacts,
    events,
    keys,
    meta,
    mcp,
    leases: createLeaseRepo(sql, s),
    clusterCommands: createClusterCommandRepo(sql, s),
    whatsappAuth: createWhatsAppAuthRepo(sql, s),
    metricsQueries: createMetricsQueries(sql, s),
    legacyImport: createLegacyImport(sql, s),
    users: new SqlUserRepo(sql, s),
    pool: new SqlPoolRepo(sql, s),
    connections: new SqlConnectionRepo(sql, s),
    deliveries: new SqlDeliveryRepo(sql, s),
    history: new HistoryRepo(sql, s),
    retention: new SqlRetentionRepo(sql, s),
  };
}

const toCompany = (r: Row): Company => ({ id: r.id, name: r.name, created_at: isoReq(r.created_at) });

const rawSqlOf = new WeakMap<Store, { sql: Sql; qschema: string }>();

/**
 * The SQL connection and quoted schema under a store made by `createSqlStore`, for tests that set up or inspect rows
 * directly (the ports expose no SQL). Throws for any other store.
 */
export function rawSql(store: Store): { sql: Sql; qschema: string } {
  const raw = rawSqlOf.get(store);
  if (!raw) throw new Error('not a SQL store');
  return raw;
}

/** A Store over a driver: repositories on the pool, plus transactions. */
export function createSqlStore(driver: Driver, schema: string): Store {
  const qschema = ident(schema);
  const store: Store = {
    kind: driver.kind,
    schema,
    ...createRepos(driver, schema),
    identities: new SqlIdentityStore({
      qschema,
      sql: driver,
      tx: (fn) => driver.transaction((sql) => fn({ sql })),
    }),
    tx: (fn) => driver.transaction((sql) => fn(createRepos(sql, schema))),
    ping: async () => {
      await driver.query('SELECT 1');
    },
    pendingMigrations: () => pendingMigrations(driver, schema),
    close: () => driver.close(),
  };
  rawSqlOf.set(store, { sql: driver, qschema });
  return store;
}
