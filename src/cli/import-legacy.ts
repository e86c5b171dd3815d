// `switchboard import-legacy`: copies the seeds' old layout (`<schema>.message_instances` with `user_id`,
// `<schema>.messages`) into ours in one transaction, idempotently (re-running imports nothing twice).
import type { Config } from '../config/index.js';
import { SbError } from '../domain/errors.js';
import type { Repos, Store } from '../ports/store.js';
import { openStore } from '../storage/index.js';
import { ident } from '../storage/sql.js';

/** What an import found and did (also what a dry run would do). */
export interface LegacyImportReport {
  from_schema: string;
  dry_run: boolean;
  companies: { created: number };
  instances: { found: number; imported: number; already_present: number; skipped_invalid_company: number };
  messages: { found: number; imported: number; already_present: number; orphaned: number };
  api_keys: { found: number; imported: number };
}

class DryRunRollback extends Error {
  constructor(readonly report: LegacyImportReport) {
    super('dry run');
  }
}

const COMPANY_ID_RE = '^[A-Za-z0-9._-]{1,64}$';

/** Maps the seeds' provider names to ours (whatsapp-web.js and Baileys became the `whatsapp` provider). */
const PROVIDER_SQL = (col: string) => `CASE
  WHEN lower(${col}) IN ('whatsappweb', 'whatsapp-web', 'whatsapp_web', 'wweb', 'baileys', 'whatsapp') THEN 'whatsapp'
  WHEN lower(${col}) IN ('telegram', 'tg') THEN 'telegram'
  ELSE lower(${col}) END`;

async function columns(tx: Repos, schema: string, table: string): Promise<Map<string, string>> {
  const rows = await tx.sql.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
    [schema, table],
  );
  return new Map(rows.map((r) => [r.column_name, r.data_type]));
}

const count = async (tx: Repos, sql: string, params: unknown[] = []) =>
  Number((await tx.sql.query<{ n: number }>(sql, params))[0]?.n ?? 0);

/**
 * Imports from `fromSchema` into the store's schema. Instances keep their ids, `user_id` (or, after the seeds'
 * migration 010, `company_id`) becomes the company, sessions are NOT started (desired state stopped: accounts
 * log in again), legacy plaintext API keys become hashed instance keys. With `dryRun` everything is rolled back.
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
  const L = ident(fromSchema);
  const S = store.qschema;
  try {
    return await store.tx(async (tx) => {
      const inst = await columns(tx, fromSchema, 'message_instances');
      if (inst.size === 0) {
        throw new SbError('SB_ERR_VALIDATION', `no table ${fromSchema}.message_instances: nothing to import`);
      }
      const company = inst.has('user_id') ? 'li.user_id' : inst.has('company_id') ? 'li.company_id' : null;
      if (!company) {
        throw new SbError(
          'SB_ERR_VALIDATION',
          `${fromSchema}.message_instances has neither user_id nor company_id`,
        );
      }
      const col = (name: string, fallback: string) => (inst.has(name) ? `li.${name}` : fallback);
      const valid = `(${company})::text ~ '${COMPANY_ID_RE}'`;
      const report: LegacyImportReport = {
        from_schema: fromSchema,
        dry_run: opts.dryRun === true,
        companies: { created: 0 },
        instances: { found: 0, imported: 0, already_present: 0, skipped_invalid_company: 0 },
        messages: { found: 0, imported: 0, already_present: 0, orphaned: 0 },
        api_keys: { found: 0, imported: 0 },
      };
      report.instances.found = await count(tx, `SELECT count(*)::int AS n FROM ${L}.message_instances li`);
      report.instances.skipped_invalid_company = await count(
        tx,
        `SELECT count(*)::int AS n FROM ${L}.message_instances li WHERE NOT ${valid}`,
      );
      report.companies.created = (
        await tx.sql.query(
          `INSERT INTO ${S}.companies (id, name)
           SELECT DISTINCT (${company})::text, (${company})::text FROM ${L}.message_instances li WHERE ${valid}
           ON CONFLICT DO NOTHING RETURNING id`,
        )
      ).length;
      report.instances.imported = (
        await tx.sql.query(
          `INSERT INTO ${S}.instances (id, company_id, name, provider, type_instance, status, auth_status,
             desired_state, settings, api_webhook_schema, mcp_schema, created_at, updated_at)
           SELECT li.id, (${company})::text, ${col('name', 'NULL')},
             ${PROVIDER_SQL(col('provider', `'whatsappweb'`))},
             COALESCE(ARRAY(SELECT DISTINCT t FROM unnest(${col('type_instance', `ARRAY['api']`)}::text[]) t
                            WHERE t IN ('api', 'mcp')), ARRAY['api']::text[]),
             'created', 'pending', 'stopped',
             jsonb_build_object('legacy', jsonb_strip_nulls(jsonb_build_object(
               'port_api', ${col('port_api', 'NULL')}, 'port_mcp', ${col('port_mcp', 'NULL')},
               'provider', ${col('provider', 'NULL')}))),
             COALESCE(${col('api_webhook_schema', 'NULL')}::jsonb, '{}'::jsonb),
             COALESCE(${col('mcp_schema', 'NULL')}::jsonb, '{}'::jsonb),
             COALESCE(${col('created_at', 'NULL')}::timestamptz, now()),
             COALESCE(${col('updated_at', 'NULL')}::timestamptz, now())
           FROM ${L}.message_instances li WHERE ${valid}
           ON CONFLICT DO NOTHING RETURNING id`,
        )
      ).length;
      report.instances.already_present =
        report.instances.found - report.instances.skipped_invalid_company - report.instances.imported;

      if (inst.has('api_key')) {
        report.api_keys.found = await count(
          tx,
          `SELECT count(*)::int AS n FROM ${L}.message_instances li WHERE li.api_key IS NOT NULL AND li.api_key <> ''`,
        );
        report.api_keys.imported = (
          await tx.sql.query(
            `INSERT INTO ${S}.api_keys (kind, prefix, hash, company_id, instance_id, label)
             SELECT 'instance', left(li.api_key, 6), encode(sha256(convert_to(li.api_key, 'UTF8')), 'hex'),
               i.company_id, i.id, 'imported legacy key'
             FROM ${L}.message_instances li JOIN ${S}.instances i ON i.id = li.id
             WHERE li.api_key IS NOT NULL AND li.api_key <> ''
             ON CONFLICT DO NOTHING RETURNING id`,
          )
        ).length;
      }

      const msg = await columns(tx, fromSchema, 'messages');
      if (msg.size > 0) {
        const m = (name: string, fallback: string) => (msg.has(name) ? `m.${name}` : fallback);
        const tsType = msg.get('timestamp') ?? '';
        const ts = !msg.has('timestamp')
          ? `COALESCE(${m('created_at', 'NULL')}::timestamptz, now())`
          : /int|numeric|double|real/.test(tsType)
            ? `CASE WHEN m.timestamp IS NULL THEN COALESCE(${m('created_at', 'NULL')}::timestamptz, now())
                    WHEN m.timestamp > 100000000000 THEN to_timestamp(m.timestamp / 1000.0)
                    ELSE to_timestamp(m.timestamp) END`
            : `COALESCE(m.timestamp::timestamptz, now())`;
        report.messages.found = await count(tx, `SELECT count(*)::int AS n FROM ${L}.messages m`);
        report.messages.orphaned = await count(
          tx,
          `SELECT count(*)::int AS n FROM ${L}.messages m
            WHERE NOT EXISTS (SELECT 1 FROM ${S}.instances i WHERE i.id = m.instance_id)`,
        );
        const fromMe = m('is_from_me', 'false');
        report.messages.imported = (
          await tx.sql.query(
            `INSERT INTO ${S}.messages (id, instance_id, company_id, message_id, chat_id, from_id, to_id, body, type,
               is_from_me, is_group, group_id, contact_name, status, ts, created_at)
             SELECT ${m('id', 'gen_random_uuid()')}, m.instance_id, i.company_id, m.message_id, m.chat_id,
               ${m('from_number', 'NULL')}, ${m('to_number', 'NULL')}, ${m('message_body', m('body', 'NULL'))},
               COALESCE(${m('message_type', 'NULL')}, 'text'), COALESCE(${fromMe}, false),
               COALESCE(${m('is_group', 'NULL')}, false), ${m('group_id', 'NULL')}, ${m('contact_name', 'NULL')},
               CASE WHEN COALESCE(${fromMe}, false) THEN 'sent' ELSE 'received' END, ${ts},
               COALESCE(${m('created_at', 'NULL')}::timestamptz, now())
             FROM ${L}.messages m JOIN ${S}.instances i ON i.id = m.instance_id
             ON CONFLICT DO NOTHING RETURNING id`,
          )
        ).length;
        report.messages.already_present =
          report.messages.found - report.messages.orphaned - report.messages.imported;
      }
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
