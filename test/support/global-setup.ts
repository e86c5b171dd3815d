// Runs once around the suite: checks that TEST_DATABASE_URL (when set) is reachable, so failures are clear; collects
// the services that test files skipped (test/support/services.ts) and prints them as one block at the end.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { formatSkipBlock, type SkipRecord } from './service-specs.js';

async function checkDatabaseUrl(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(`TEST_DATABASE_URL is set but PostgreSQL is not reachable: ${(err as Error).message}`);
  } finally {
    await client.end().catch((err: Error) => {
      process.stderr.write(`global-setup: closing the PostgreSQL check connection: ${err.message}\n`);
    });
  }
}

function readSkips(dir: string): SkipRecord[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as SkipRecord);
}

export default async function setup(project: TestProject): Promise<() => void> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) await checkDatabaseUrl(url);

  const dir = mkdtempSync(join(tmpdir(), 'sb-test-skips-'));
  project.provide('serviceSkipDir', dir);
  return () => {
    const skips = readSkips(dir);
    rmSync(dir, { recursive: true, force: true });
    const root = project.config.root;
    // TEST_SKIP_REPORT: where .ci/run wants the skipped files, one per line, to run them again with the services on.
    const reportPath = process.env.TEST_SKIP_REPORT;
    if (reportPath) {
      const files = [...new Set(skips.map((s) => s.file.replace(`${root}/`, '')))].sort();
      writeFileSync(reportPath, files.map((f) => `${f}\n`).join(''));
    }
    if (!skips.length) return;
    const excluded = url ? [] : project.config.exclude.filter((p) => !p.includes('*'));
    process.stdout.write(formatSkipBlock(skips, root, excluded));
  };
}
