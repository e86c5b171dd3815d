// Versioned SQL migrations: files in ./migrations applied in order, once, inside one transaction.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Driver, ident } from './sql.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  version: string;
  sql: string;
}

/** All migration files, sorted by version (the file name without .sql). */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: readFileSync(join(dir, f), 'utf8') }));
}

function render(sql: string, schema: string): string {
  return sql.replaceAll('{{schema}}', ident(schema));
}

/** Versions present on disk but not recorded in `schema_migrations`. */
export async function pendingMigrations(driver: Driver, schema: string): Promise<string[]> {
  const s = ident(schema);
  const exists = await driver.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [
    `${s}.schema_migrations`,
  ]);
  const all = loadMigrations().map((m) => m.version);
  if (!exists[0]?.ok) return all;
  const done = new Set(
    (await driver.query<{ version: string }>(`SELECT version FROM ${s}.schema_migrations`)).map(
      (r) => r.version,
    ),
  );
  return all.filter((v) => !done.has(v));
}

/**
 * Applies pending migrations in one transaction. A transaction-scoped advisory lock serialises concurrent
 * replicas (released at commit, so it is safe behind a transaction-mode pooler). Returns applied versions.
 */
export async function migrate(driver: Driver, schema: string): Promise<string[]> {
  const s = ident(schema);
  return driver.transaction(async (sql) => {
    await sql.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`switchboard-migrate:${schema}`]);
    await sql.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await sql.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await sql.query<{ version: string }>(`SELECT version FROM ${s}.schema_migrations`)).map(
        (r) => r.version,
      ),
    );
    const applied: string[] = [];
    for (const m of loadMigrations()) {
      if (done.has(m.version)) continue;
      for (const stmt of splitStatements(render(m.sql, schema))) await sql.query(stmt);
      await sql.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [m.version]);
      applied.push(m.version);
    }
    return applied;
  });
}

/** Splits a migration file on semicolons at line ends (our migrations keep one statement per `;\n`). */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter((s) => s.length > 0);
}
