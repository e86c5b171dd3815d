// Migrated PGlite templates for tests: initdb and the migrations run once (cached on disk), each test database is a
// copy loaded from that dump, several times faster than a fresh in-memory PGlite (whose start runs initdb).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { loadMigrations, migrate } from '../../src/storage/migrate.js';
import {
  createPgliteDriver,
  PGLITE_DEFAULT_SHARED_BUFFERS_MB,
  wrapPglite,
} from '../../src/storage/pglite-driver.js';
import { type Driver, ident } from '../../src/storage/sql.js';

/** The schema the migrated template holds; each copy renames it to the test's own schema. */
const TEMPLATE_SCHEMA = 'sb_template';

/** What a template is: `bare` is an initialised database only, `migrated` holds every migration in one schema. */
export type PgliteTemplateKind = 'bare' | 'migrated';

/** The installed PGlite's version (its package.json is not among the package's exports, so read from disk). */
function pgliteVersion(): string {
  const file = fileURLToPath(
    new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url),
  );
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** The dump's file: named by PGlite's version and (for `migrated`) every migration's text, so a change misses it. */
function templatePath(kind: PgliteTemplateKind): string {
  const h = createHash('sha256').update(`${pgliteVersion()}\n${kind}\n`);
  if (kind === 'migrated') for (const m of loadMigrations()) h.update(`${m.version}\n${m.sql}\n`);
  return join(tmpdir(), `sb-pglite-template-${kind}-${h.digest('hex').slice(0, 16)}.tar`);
}

/** One dump per kind and process, read from disk (or built) on first use. */
const loaded = new Map<PgliteTemplateKind, Promise<Blob>>();

async function build(kind: PgliteTemplateKind, path: string): Promise<Blob> {
  // As createPgliteDriver opens an in-memory database, but kept raw for its dumpDataDir.
  const db = new PGlite({
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_DEFAULT_SHARED_BUFFERS_MB}MB`],
  });
  try {
    await db.waitReady;
    if (kind === 'migrated') await migrate(wrapPglite(db), TEMPLATE_SCHEMA);
    await db.query('CHECKPOINT');
    const dump = await db.dumpDataDir('none');
    // Written under a private name, then renamed: another test process never reads half a dump.
    const part = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(part, Buffer.from(await dump.arrayBuffer()));
    renameSync(part, path);
    return dump;
  } finally {
    await db.close();
  }
}

function template(kind: PgliteTemplateKind): Promise<Blob> {
  let p = loaded.get(kind);
  if (!p) {
    const path = templatePath(kind);
    p = existsSync(path) ? Promise.resolve(new Blob([readFileSync(path)])) : build(kind, path);
    loaded.set(kind, p);
  }
  return p;
}

/**
 * A new in-memory PGlite database loaded from a template: `bare` (as `createPgliteDriver(undefined)` gives), or
 * `migrated` with every migration applied in `schema` (as `migrate(driver, schema)` leaves it).
 */
export async function openPgliteFromTemplate(kind: 'bare'): Promise<Driver>;
export async function openPgliteFromTemplate(kind: 'migrated', schema: string): Promise<Driver>;
export async function openPgliteFromTemplate(kind: PgliteTemplateKind, schema?: string): Promise<Driver> {
  const driver = await createPgliteDriver(undefined, { loadDataDir: await template(kind) });
  if (kind === 'migrated') {
    if (!schema) throw new Error('a migrated template needs the schema to rename its own to');
    await driver.query(`ALTER SCHEMA ${ident(TEMPLATE_SCHEMA)} RENAME TO ${ident(schema)}`);
  }
  return driver;
}
