// Legacy import tests: the seeds' old layout (test/fixtures/legacy/seed-001-layout.sql) loaded into a schema of its own.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitStatements } from '../../src/storage/migrate.js';
import type { Driver } from '../../src/storage/sql.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/legacy/seed-001-layout.sql');

/** The id of the fixture's first instance (company 962302, three messages). */
export const LEGACY_I1 = '11111111-1111-4111-8111-111111111111';

/** Loads the legacy fixture into a new schema `legacy_<random>` through `driver`; returns the schema's name. */
export async function loadLegacyFixture(driver: Driver): Promise<string> {
  const legacy = `legacy_${randomBytes(5).toString('hex')}`;
  const sql = readFileSync(FIXTURE, 'utf8').replaceAll('{{legacy}}', `"${legacy}"`);
  for (const stmt of splitStatements(sql)) await driver.query(stmt);
  return legacy;
}

/** Drops a schema made by {@link loadLegacyFixture}. */
export async function dropLegacyFixture(driver: Driver, legacy: string): Promise<void> {
  await driver.query(`DROP SCHEMA IF EXISTS "${legacy}" CASCADE`);
}
