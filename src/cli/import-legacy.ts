// `switchboard import-legacy`: copies the seeds' old layout (`<schema>.message_instances` with `user_id`,
// `<schema>.messages`) into ours in one transaction, idempotently (re-running imports nothing twice).
import type { Config } from '../config/index.js';
import { SbError } from '../domain/errors.js';
import type { LegacyImportReport } from '../ports/legacy-import.js';
import type { Store } from '../ports/store.js';
import { openStore } from '../storage/index.js';

export type { LegacyImportReport } from '../ports/legacy-import.js';

class DryRunRollback extends Error {
  constructor(readonly report: LegacyImportReport) {
    super('dry run');
  }
}

/**
 * Imports from `fromSchema` into the store's schema in one transaction (see the `legacyImport` repository for
 * what is copied and how). With `dryRun` everything is rolled back and the report says what would have happened.
 */
export async function importLegacy(
  store: Store,
  fromSchema: string,
  opts: { dryRun?: boolean } = {},
): Promise<LegacyImportReport> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(fromSchema)) {
    throw new SbError(
      'SB_ERR_VALIDATION',
      `--from-schema must be a lowercase SQL identifier, got "${fromSchema}"`,
    );
  }
  if (fromSchema === store.schema) {
    throw new SbError('SB_ERR_VALIDATION', 'the legacy schema must differ from DATABASE_SCHEMA');
  }
  try {
    return await store.tx(async (tx) => {
      const report = { ...(await tx.legacyImport.importFrom(fromSchema)), dry_run: opts.dryRun === true };
      if (opts.dryRun) throw new DryRunRollback(report);
      return report;
    });
  } catch (err) {
    if (err instanceof DryRunRollback) return err.report;
    throw err;
  }
}

/** Human-readable report lines (no secrets: keys are only counted). */
export function formatReport(r: LegacyImportReport): string[] {
  return [
    `${r.dry_run ? 'DRY RUN (nothing written): ' : ''}import from schema "${r.from_schema}"`,
    `  companies created:     ${r.companies.created}`,
    `  instances found:       ${r.instances.found}  imported: ${r.instances.imported}  already present: ${r.instances.already_present}  skipped (invalid company id): ${r.instances.skipped_invalid_company}`,
    `  messages found:        ${r.messages.found}  imported: ${r.messages.imported}  already present: ${r.messages.already_present}  orphaned (no instance): ${r.messages.orphaned}`,
    `  instance API keys:     found ${r.api_keys.found}  imported ${r.api_keys.imported} (hashed; old clients keep working)`,
    '  imported instances are stopped: start them and log in again (old sessions cannot be carried over).',
  ];
}

/** The CLI command: opens (and migrates) the configured store, imports, prints the report. */
export async function runImportLegacy(
  config: Readonly<Config>,
  opts: { fromSchema: string; dryRun: boolean },
  out: (line: string) => void,
): Promise<void> {
  const { store } = await openStore(config.database, { what: 'import legacy data' });
  try {
    const report = await importLegacy(store, opts.fromSchema, { dryRun: opts.dryRun });
    for (const line of formatReport(report)) out(line);
  } finally {
    await store.close();
  }
}
