// SQL of `switchboard import-legacy`: copies the seeds' old layout (`<schema>.message_instances` with `user_id`,
// `<schema>.messages`) into ours, idempotently (re-running imports nothing twice).
import { SbError } from '../domain/errors.js';
import type { LegacyImportRepo, LegacyImportReport } from '../ports/legacy-import.js';
import type { SqlRunner } from './sql.js';
import { ident } from './sql.js';

const COMPANY_ID_RE = '^[A-Za-z0-9._-]{1,64}$';

/** Maps the seeds' provider names to ours (whatsapp-web.js and Baileys became the `whatsapp` provider). */
const PROVIDER_SQL = (col: string) => `CASE
  WHEN lower(${col}) IN ('whatsappweb', 'whatsapp-web', 'whatsapp_web', 'wweb', 'baileys', 'whatsapp') THEN 'whatsapp'
  WHEN lower(${col}) IN ('telegram', 'tg') THEN 'telegram'
  ELSE lower(${col}) END`;

/**
 * Instances keep their ids, `user_id` (or, after the seeds' migration 010, `company_id`) becomes the company,
 * sessions are NOT started (desired state stopped: accounts log in again), legacy plaintext API keys become hashed
 * instance keys. Run it inside one transaction (`store.tx`).
 */
export function createLegacyImport(sql: SqlRunner, qschema: string): LegacyImportRepo {
  const S = qschema;

  const columns = async (schema: string, table: string): Promise<Map<string, string>> => {
    const rows = await sql.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
      [schema, table],
    );
    return new Map(rows.map((r) => [r.column_name, r.data_type]));
  };
  const count = async (text: string) => Number((await sql.query<{ n: number }>(text))[0]?.n ?? 0);
  const inserted = async (text: string) => (await sql.query(text)).length;

  /**
   * The seeds' `api_webhook_schema` of the instances imported now becomes their webhook endpoint (the only place
   * a webhook is kept), the way migration 0018 moved it: a string url, string events ('*' = all), enabled.
   */
  const importWebhooks = async (L: string, ids: string[]) => {
    const hook = `COALESCE(li.api_webhook_schema::jsonb, '{}'::jsonb)`;
    await sql.query(
      `INSERT INTO ${S}.webhook_endpoints (company_id, instance_id, kind, url, events, enabled, secret)
       SELECT i.company_id, i.id, 'webhook', btrim(${hook}->>'url'),
         ARRAY(SELECT btrim(e #>> '{}')
                 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${hook}->'events') = 'array'
                                                THEN ${hook}->'events' ELSE '[]'::jsonb END) e
                WHERE jsonb_typeof(e) = 'string' AND btrim(e #>> '{}') NOT IN ('', '*')),
         COALESCE(CASE WHEN jsonb_typeof(${hook}->'enabled') = 'boolean' THEN (${hook}->>'enabled')::boolean END, true),
         'whsec_' || encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'base64')
       FROM ${L}.message_instances li JOIN ${S}.instances i ON i.id = li.id
       WHERE i.id = ANY($1::uuid[]) AND jsonb_typeof(${hook}->'url') = 'string'
         AND length(btrim(${hook}->>'url')) BETWEEN 1 AND 2048
       ON CONFLICT DO NOTHING`,
      [ids],
    );
  };

  return {
    async importFrom(fromSchema): Promise<LegacyImportReport> {
      const L = ident(fromSchema);
      const inst = await columns(fromSchema, 'message_instances');
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
        dry_run: false,
        companies: { created: 0 },
        instances: { found: 0, imported: 0, already_present: 0, skipped_invalid_company: 0 },
        messages: { found: 0, imported: 0, already_present: 0, orphaned: 0 },
        api_keys: { found: 0, imported: 0 },
      };
      report.instances.found = await count(`SELECT count(*)::int AS n FROM ${L}.message_instances li`);
      report.instances.skipped_invalid_company = await count(
        `SELECT count(*)::int AS n FROM ${L}.message_instances li WHERE NOT ${valid}`,
      );
      report.companies.created = await inserted(
        `INSERT INTO ${S}.companies (id, name)
         SELECT DISTINCT (${company})::text, (${company})::text FROM ${L}.message_instances li WHERE ${valid}
         ON CONFLICT DO NOTHING RETURNING id`,
      );
      const imported = await sql.query<{ id: string }>(
        `INSERT INTO ${S}.instances (id, company_id, name, provider, type_instance, status, auth_status,
           desired_state, settings, mcp_schema, created_at, updated_at)
         SELECT li.id, (${company})::text, ${col('name', 'NULL')},
           ${PROVIDER_SQL(col('provider', `'whatsappweb'`))},
           COALESCE(ARRAY(SELECT DISTINCT t FROM unnest(${col('type_instance', `ARRAY['api']`)}::text[]) t
                          WHERE t IN ('api', 'mcp')), ARRAY['api']::text[]),
           'created', 'pending', 'stopped',
           jsonb_build_object('legacy', jsonb_strip_nulls(jsonb_build_object(
             'port_api', ${col('port_api', 'NULL')}, 'port_mcp', ${col('port_mcp', 'NULL')},
             'provider', ${col('provider', 'NULL')}))),
           COALESCE(${col('mcp_schema', 'NULL')}::jsonb, '{}'::jsonb),
           COALESCE(${col('created_at', 'NULL')}::timestamptz, now()),
           COALESCE(${col('updated_at', 'NULL')}::timestamptz, now())
         FROM ${L}.message_instances li WHERE ${valid}
         ON CONFLICT DO NOTHING RETURNING id::text AS id`,
      );
      report.instances.imported = imported.length;
      const ids = imported.map((r) => r.id);
      if (inst.has('api_webhook_schema') && ids.length > 0) await importWebhooks(L, ids);
      report.instances.already_present =
        report.instances.found - report.instances.skipped_invalid_company - report.instances.imported;

      if (inst.has('api_key')) {
        report.api_keys.found = await count(
          `SELECT count(*)::int AS n FROM ${L}.message_instances li WHERE li.api_key IS NOT NULL AND li.api_key <> ''`,
        );
        report.api_keys.imported = await inserted(
          `INSERT INTO ${S}.api_keys (kind, prefix, hash, company_id, instance_id, label)
           SELECT 'instance', left(li.api_key, 6), encode(sha256(convert_to(li.api_key, 'UTF8')), 'hex'),
             i.company_id, i.id, 'imported legacy key'
           FROM ${L}.message_instances li JOIN ${S}.instances i ON i.id = li.id
           WHERE li.api_key IS NOT NULL AND li.api_key <> ''
           ON CONFLICT DO NOTHING RETURNING id`,
        );
      }

      const msg = await columns(fromSchema, 'messages');
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
        report.messages.found = await count(`SELECT count(*)::int AS n FROM ${L}.messages m`);
        report.messages.orphaned = await count(
          `SELECT count(*)::int AS n FROM ${L}.messages m
            WHERE NOT EXISTS (SELECT 1 FROM ${S}.instances i WHERE i.id = m.instance_id)`,
        );
        const fromMe = m('is_from_me', 'false');
        report.messages.imported = await inserted(
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
        );
        report.messages.already_present =
          report.messages.found - report.messages.orphaned - report.messages.imported;
      }
      return report;
    },
  };
}
