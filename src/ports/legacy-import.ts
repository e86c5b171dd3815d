// The legacy import port: copies the seeds' old tables (another schema of the same database) into ours.

/** What an import found and did (also what a dry run would do). */
export interface LegacyImportReport {
  from_schema: string;
  dry_run: boolean;
  companies: { created: number };
  instances: { found: number; imported: number; already_present: number; skipped_invalid_company: number };
  messages: { found: number; imported: number; already_present: number; orphaned: number };
  api_keys: { found: number; imported: number };
}

export interface LegacyImportRepo {
  /**
   * Imports `fromSchema` (a validated lowercase identifier) idempotently: rows already present are skipped.
   * Use inside a transaction so the whole import commits or rolls back together. Throws SB_ERR_VALIDATION when
   * the schema has no `message_instances` table, or that table has neither `user_id` nor `company_id`.
   * The report's `dry_run` is false; the caller sets it.
   */
  importFrom(fromSchema: string): Promise<LegacyImportReport>;
}
