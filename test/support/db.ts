// Test databases: a fresh schema on real PostgreSQL (TEST_DATABASE_URL) or an in-memory PGlite otherwise, one suite
// per backend, and the rows most tests seed (a company's instance, a message).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe } from 'vitest';
import type { Instance } from '../../src/domain/model.js';
import type { NewEndpoint, WebhookEndpoint } from '../../src/ports/deliveries.js';
import type { NewInstance, NewMessage, OutboundOutcome, Store } from '../../src/ports/store.js';
import { loadMigrations, migrate, splitStatements } from '../../src/storage/migrate.js';
import { createPgDriver } from '../../src/storage/pg-driver.js';
import { type Driver, ident } from '../../src/storage/sql.js';
import { createSqlStore } from '../../src/storage/sql-store.js';
import { openPgliteFromTemplate } from './pglite-template.js';

export interface TestDb {
  kind: 'postgres' | 'pglite';
  store: Store;
  driver: Driver;
  schema: string;
  /** The connection string when on PostgreSQL (for child processes), else undefined. */
  url: string | undefined;
  close(): Promise<void>;
}

export type Backend = 'pglite' | 'postgres';

/** Which backends to run a contract suite on: always PGlite, and PostgreSQL when TEST_DATABASE_URL is set. */
export function testBackends(): Backend[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** The default backend for a test: PostgreSQL when TEST_DATABASE_URL is set, otherwise PGlite. */
export function defaultBackend(): Backend {
  return process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
}

export async function openTestDb(kind: Backend = defaultBackend()): Promise<TestDb> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const url = kind === 'postgres' ? process.env.TEST_DATABASE_URL : undefined;
  if (kind === 'postgres' && !url) throw new Error('TEST_DATABASE_URL is not set');
  let driver: Driver;
  if (url) {
    driver = createPgDriver({ url, ssl: false, poolSize: 5 });
    await migrate(driver, schema);
  } else {
    // A copy of the migrated template (initdb and the migrations ran once): the same schema, seconds sooner.
    driver = await openPgliteFromTemplate('migrated', schema);
  }
  // A server database outlives the test: its schema is dropped (PGlite's memory simply goes with the driver).
  const drop = async () => {
    if (!url) return;
    await driver.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch((err: Error) => {
      process.stderr.write(`test db: could not drop schema ${schema} (left behind): ${err.message}\n`);
    });
  };
  return {
    kind,
    store: createSqlStore(driver, schema),
    driver,
    schema,
    url,
    close: async () => {
      await drop();
      await driver.close();
    },
  };
}

/** A migration test's database: a new schema holding the migrations numbered below `before` (e.g. `'0019'`). */
export interface MigrationTestDb {
  driver: Driver;
  schema: string;
  /** The quoted schema. */
  s: string;
  /** The statements of one migration (`'0019'` or its full name) for this schema, in order. */
  statements(version: string): string[];
  /** Runs statements one by one. */
  run(statements: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export async function openMigrationTestDb(backend: Backend, before: string): Promise<MigrationTestDb> {
  const driver =
    backend === 'postgres'
      ? createPgDriver({ url: process.env.TEST_DATABASE_URL!, ssl: false, poolSize: 2 })
      : await openPgliteFromTemplate('bare');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const s = ident(schema);
  const statements = (version: string) => {
    const m = loadMigrations().find((x) => x.version === version || x.version.startsWith(`${version}_`));
    if (!m) throw new Error(`no migration ${version}`);
    return splitStatements(m.sql.replaceAll('{{schema}}', s));
  };
  const run = async (stmts: readonly string[]) => {
    for (const stmt of stmts) await driver.query(stmt);
  };
  await driver.query(`CREATE SCHEMA ${s}`);
  for (const m of loadMigrations().filter((x) => x.version < before)) await run(statements(m.version));
  return {
    driver,
    schema,
    s,
    statements,
    run,
    close: async () => {
      await driver.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch((err: Error) => {
        process.stderr.write(
          `migration test db: could not drop schema ${schema} (left behind): ${err.message}\n`,
        );
      });
      await driver.close();
    },
  };
}

/**
 * Declares the suite `fn` once per backend of {@link testBackends} (named "`name` on pglite", "`name` on postgres"),
 * each with its own fresh database. `db` is opened before the suite's own `beforeAll` hooks run and closed after its
 * `afterAll` hooks; its fields are there from then on, so read them inside hooks and tests, not while declaring.
 */
export function describeOnBackends(name: string, fn: (db: TestDb, backend: Backend) => void): void {
  describe.each(testBackends())(`${name} on %s`, (backend) => {
    const db = {} as TestDb;
    beforeAll(async () => {
      Object.assign(db, await openTestDb(backend));
    }, 180_000);
    afterAll(async () => {
      await db.close?.();
    });
    fn(db, backend);
  });
}

/** A new instance's fields for a test: a stopped API simulator of company `c1` with empty settings; `over` wins. */
export function newInstanceInput(over: Partial<NewInstance> = {}): NewInstance {
  return {
    company_id: 'c1',
    provider: 'simulator',
    name: null,
    type_instance: ['api'],
    settings: {},
    mcp_schema: {},
    desired_state: 'stopped',
    ...over,
  };
}

/** Creates an instance (see {@link newInstanceInput} for the defaults), making sure its company exists first. */
export async function seedInstance(store: Store, over: Partial<NewInstance> = {}): Promise<Instance> {
  const input = newInstanceInput(over);
  await store.companies.ensure(input.company_id);
  return store.instances.create(input);
}

/**
 * A received text message of instance `instanceId` (company `c1`) from a WhatsApp contact to no one, with a random
 * message id and the current time; `over` wins.
 */
export function newMessage(instanceId: string, over: Partial<NewMessage> = {}): NewMessage {
  return {
    instance_id: instanceId,
    company_id: 'c1',
    message_id: `m-${Math.random().toString(36).slice(2)}`,
    chat_id: '4915100000001@s.whatsapp.net',
    from: '4915100000001@s.whatsapp.net',
    to: null,
    body: 'hello',
    type: 'text',
    is_from_me: false,
    is_group: false,
    group_id: null,
    contact_name: null,
    reply_to: null,
    media: null,
    status: 'received',
    timestamp: new Date().toISOString(),
    ...over,
  };
}

/**
 * Creates an enabled webhook endpoint of company `c1` for every event, to a loopback port nothing listens on (its
 * deliveries fail unless a test claims them itself); `over` wins.
 */
export function seedEndpoint(store: Store, over: Partial<NewEndpoint> = {}): Promise<WebhookEndpoint> {
  return store.deliveries.insertEndpoint({
    company_id: 'c1',
    instance_id: null,
    kind: 'webhook',
    url: 'http://127.0.0.1:9/hook',
    events: [],
    enabled: true,
    secret: 'whsec_x',
    ...over,
  });
}

/** A gate on one statement: once armed, the next query `matches` waits in `wait` until `release()`. */
export interface QueryGate {
  /** Call before each query; holds the first matching one after `arm()`. */
  wait(text: string): Promise<void>;
  arm(): void;
  release(): void;
  /** Resolves once a query is held. */
  held: Promise<void>;
}

/** Holds the first query that `matches` (after `arm()`), so work arriving meanwhile queues behind it. */
export function queryGate(matches: (text: string) => boolean): QueryGate {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let reached!: () => void;
  const held = new Promise<void>((r) => {
    reached = r;
  });
  let armed = false;
  return {
    async wait(text) {
      if (!armed || !matches(text)) return;
      armed = false;
      reached();
      await gate;
    },
    arm() {
      armed = true;
    },
    release: () => release(),
    held,
  };
}

/** One send's pending row through `insertOutboundMany` (a batch of one): inserted, or the row its key names. */
export async function insertOutbound(store: Store, m: NewMessage): Promise<OutboundOutcome> {
  const [out] = await store.messages.insertOutboundMany([{ message: m, version: null }]);
  if (!out) throw new Error('insertOutboundMany wrote nothing for an unversioned row');
  return out;
}

/** The same, only while the instance row is at `version`: null when it moved (nothing written). */
export async function insertOutboundIfUnchanged(
  store: Store,
  m: NewMessage,
  version: string,
): Promise<OutboundOutcome | null> {
  const [out] = await store.messages.insertOutboundMany([{ message: m, version }]);
  return out ?? null;
}
