// The Store implemented once in SQL for both drivers; every statement is schema-qualified.
import type {
  ApiKeyRecord,
  Chat,
  Company,
  Contact,
  GatewayEvent,
  Instance,
  Message,
  NewLogEvent,
} from '../domain/model.js';
import { phoneOfUserJid } from '../domain/phones.js';
import type { MessageStatus } from '../domain/statuses.js';
import type {
  ChatRepo,
  CompanyRepo,
  ContactRepo,
  EventRepo,
  InstancePatch,
  InstanceRepo,
  KeyRepo,
  MessageRepo,
  MetaRepo,
  NewMessage,
  Repos,
  Store,
} from '../ports/store.js';
import { createBatchWrites, rankSql } from './batch-writes.js';
import { createClusterCommandRepo } from './cluster-commands.js';
import { SqlDeliveryRepo } from './deliveries.js';
import { HistoryRepo } from './history.js';
import { SqlIdentityStore } from './identities.js';
import { createLeaseRepo } from './leases.js';
import { createLegacyImport } from './legacy-import.js';
import { createMcpRepo } from './mcp.js';
import { createMetricsQueries } from './metrics-queries.js';
import { pendingMigrations } from './migrate.js';
import { SqlConnectionRepo, SqlPoolRepo } from './pool.js';
import { SqlRetentionRepo } from './retention.js';
import { decodeCursor, encodeCursor, iso, isoReq } from './rows.js';
import { type Driver, ident, type Sql } from './sql.js';
import { SqlUserRepo } from './users.js';
import { createWhatsAppAuthRepo } from './whatsapp-auth.js';

type Row = Record<string, any>;

/** An instance row's version: its `updated_at` to the microsecond (the activity time does not move it). */
const VERSION_OF = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;

const INSTANCE_COLUMNS = `id::text AS id, company_id, name, provider, type_instance, status, auth_status, desired_state,
  account, qr, qr_updated_at, settings, mcp_schema, is_pooled, assigned_to, last_error,
  last_activity_at, created_at, updated_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_cursor,
  ${VERSION_OF('updated_at')} AS version`;

const toInstance = (r: Row): Instance => ({
  id: r.id,
  company_id: r.company_id,
  name: r.name,
  provider: r.provider,
  type_instance: r.type_instance,
  status: r.status,
  auth_status: r.auth_status,
  desired_state: r.desired_state,
  account: r.account,
  qr: r.qr,
  qr_updated_at: iso(r.qr_updated_at),
  settings: r.settings ?? {},
  mcp_schema: r.mcp_schema ?? {},
  is_pooled: r.is_pooled,
  assigned_to: r.assigned_to,
  last_error: r.last_error,
  last_activity_at: iso(r.last_activity_at),
  created_at: isoReq(r.created_at),
  updated_at: isoReq(r.updated_at),
});

const MESSAGE_COLUMNS = `id::text AS id, instance_id::text AS instance_id, company_id, message_id, chat_id, from_id, to_id,
  body, type, is_from_me, is_group, group_id, contact_name, reply_to, media, mentions, status, ts, created_at,
  request_hash`;

const toMessage = (r: Row): Message => ({
  id: r.id,
  instance_id: r.instance_id,
  company_id: r.company_id,
  message_id: r.message_id,
  chat_id: r.chat_id,
  from: r.from_id,
  to: r.to_id,
  body: r.body,
  type: r.type,
  is_from_me: r.is_from_me,
  is_group: r.is_group,
  group_id: r.group_id,
  contact_name: r.contact_name,
  reply_to: r.reply_to,
  media: r.media,
  mentions: r.mentions ?? [],
  status: r.status,
  timestamp: isoReq(r.ts),
  created_at: isoReq(r.created_at),
  sender_phone: phoneOfUserJid(r.from_id),
});

const toEvent = (r: Row): GatewayEvent => ({
  id: Number(r.id),
  type: r.type,
  instance_id: r.instance_id,
  company_id: r.company_id,
  created_at: isoReq(r.created_at),
  data: r.data ?? {},
});

const toKey = (r: Row): ApiKeyRecord => ({
  id: r.id,
  kind: r.kind,
  prefix: r.prefix,
  hash: r.hash,
  company_id: r.company_id,
  instance_id: r.instance_id,
  scopes: r.scopes ?? [],
  instance_ids: r.instance_ids ?? null,
  label: r.label,
  created_at: isoReq(r.created_at),
  last_used_at: iso(r.last_used_at),
  revoked_at: iso(r.revoked_at),
});

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

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

  const instances: InstanceRepo = {
    async create(i) {
      const rows = await sql.query(
        `INSERT INTO ${s}.instances (company_id, provider, name, type_instance, settings, mcp_schema,
           desired_state, is_pooled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${INSTANCE_COLUMNS}`,
        [
          i.company_id,
          i.provider,
          i.name,
          i.type_instance,
          json(i.settings),
          json(i.mcp_schema),
          i.desired_state,
          i.is_pooled ?? false,
        ],
      );
      return toInstance(rows[0]);
    },
    async get(id) {
      const rows = await sql.query(`SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances WHERE id = $1`, [id]);
      return rows[0] ? toInstance(rows[0]) : null;
    },
    async getVersioned(id) {
      const rows = await sql.query(`SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances WHERE id = $1`, [id]);
      return rows[0] ? { instance: toInstance(rows[0]), version: String(rows[0].version) } : null;
    },
    async getForUpdate(id) {
      const rows = await sql.query(
        `SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances WHERE id = $1 FOR UPDATE`,
        [id],
      );
      return rows[0] ? toInstance(rows[0]) : null;
    },
    async list(f) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (cond: string, v: unknown) => {
        params.push(v);
        where.push(cond.replace('?', `$${params.length}`));
      };
      if (f.company_id !== undefined) add('company_id = ?', f.company_id);
      if (f.provider !== undefined) add('provider = ?', f.provider);
      if (f.status !== undefined) add('status = ?', f.status);
      if (f.auth_status !== undefined) add('auth_status = ?', f.auth_status);
      if (f.is_pooled !== undefined) add('is_pooled = ?', f.is_pooled);
      if (f.cursor) {
        const [at, id] = decodeCursor(f.cursor, 2);
        params.push(at, id);
        where.push(`(created_at, id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
      }
      params.push(f.limit + 1);
      const rows = await sql.query(
        `SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at, id LIMIT $${params.length}`,
        params,
      );
      const items = rows.slice(0, f.limit).map(toInstance);
      // The cursor keeps the full (microsecond) creation time so rows created in one millisecond are not repeated.
      const last = rows[f.limit - 1];
      return {
        items,
        next_cursor: rows.length > f.limit && last ? encodeCursor([last.created_cursor, last.id]) : null,
      };
    },
    async update(id, patch) {
      const sets: string[] = [];
      const params: unknown[] = [id];
      const jsonCols = new Set(['settings', 'mcp_schema']);
      for (const [k, v] of Object.entries(patch as InstancePatch)) {
        if (v === undefined) continue;
        params.push(jsonCols.has(k) ? json(v) : v);
        sets.push(`${k} = $${params.length}`);
        if (k === 'qr') sets.push(`qr_updated_at = ${v === null ? 'NULL' : 'now()'}`);
      }
      sets.push('updated_at = now()');
      const rows = await sql.query(
        `UPDATE ${s}.instances SET ${sets.join(', ')} WHERE id = $1 RETURNING ${INSTANCE_COLUMNS}`,
        params,
      );
      return rows[0] ? toInstance(rows[0]) : null;
    },
    async delete(id) {
      const rows = await sql.query(`DELETE FROM ${s}.instances WHERE id = $1 RETURNING id`, [id]);
      return rows.length > 0;
    },
    touchActivity: (id) => batch.touchActivityMany([id]),
    touchActivityMany: (ids) => batch.touchActivityMany(ids),
    async listDesiredRunning() {
      return (
        await sql.query(
          `SELECT ${INSTANCE_COLUMNS} FROM ${s}.instances WHERE desired_state = 'running' ORDER BY created_at`,
        )
      ).map(toInstance);
    },
    async countForCompany(companyId) {
      // Locks the company row first, so concurrent creations for one company are counted one after another.
      await sql.query(`SELECT id FROM ${s}.companies WHERE id = $1 FOR UPDATE`, [companyId]);
      const rows = await sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${s}.instances WHERE company_id = $1`,
        [companyId],
      );
      return Number(rows[0]?.n ?? 0);
    },
  };

  const messageParams = (m: NewMessage) => [
    m.instance_id,
    m.company_id,
    m.message_id,
    m.chat_id,
    m.from,
    m.to,
    m.body,
    m.type,
    m.is_from_me,
    m.is_group,
    m.group_id,
    m.contact_name,
    m.reply_to,
    json(m.media),
    m.status,
    m.timestamp,
    m.idempotency_key ?? null,
    m.request_hash ?? null,
    m.mentions ?? [],
  ];
  const INSERT_INTO_MESSAGES = `INSERT INTO ${s}.messages (instance_id, company_id, message_id, chat_id, from_id,
      to_id, body, type, is_from_me, is_group, group_id, contact_name, reply_to, media, status, ts, idempotency_key,
      request_hash, mentions)`;
  const INSERT_MESSAGE = `${INSERT_INTO_MESSAGES}
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19::text[])`;

  // The same insert, only while the instance row is at the version a cache saw ($20).
  const INSERT_MESSAGE_IF_UNCHANGED = `${INSERT_INTO_MESSAGES}
    SELECT $1::uuid, $2, $3, $4, $5, $6, $7, $8, $9::boolean, $10::boolean, $11, $12, $13, $14::jsonb, $15,
      $16::timestamptz, $17, $18, $19::text[]
    WHERE EXISTS (SELECT 1 FROM ${s}.instances WHERE id = $1::uuid AND ${VERSION_OF('updated_at')} = $20)`;

  /**
   * A send's pending row; with a `version`, only while the instance row is still at it. A repeated Idempotency-Key
   * returns the stored row (`inserted` false); null when the version moved (nothing written).
   */
  const insertOutboundRow = async (m: NewMessage, version: string | null) => {
    const conflict = m.idempotency_key
      ? ' ON CONFLICT (instance_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING'
      : '';
    const rows = await sql.query(
      `${version === null ? INSERT_MESSAGE : INSERT_MESSAGE_IF_UNCHANGED}${conflict} RETURNING ${MESSAGE_COLUMNS}`,
      version === null ? messageParams(m) : [...messageParams(m), version],
    );
    if (rows[0]) return { message: toMessage(rows[0]), inserted: true, request_hash: m.request_hash ?? null };
    const existing = m.idempotency_key
      ? await messages.getByIdempotencyKey(m.instance_id, m.idempotency_key)
      : null;
    return existing ? { ...existing, inserted: false } : null;
  };

  const messages: MessageRepo = {
    async upsert(m) {
      const rows = await sql.query(
        `${INSERT_MESSAGE} ON CONFLICT (instance_id, message_id) DO NOTHING RETURNING ${MESSAGE_COLUMNS}`,
        messageParams(m),
      );
      if (rows[0]) return { message: toMessage(rows[0]), inserted: true };
      const existing = await messages.getByMessageId(m.instance_id, m.message_id!);
      return { message: existing!, inserted: false };
    },
    insertMany: (ms) => batch.insertMany(ms),
    ingestMany: (ms, due) => batch.ingestMany(ms, due),
    applyAcks: (acks) => batch.applyAcks(acks),
    lockMessageIds: (keys) => batch.lockMessageIds(keys),
    recordSent: (rows) => batch.recordSent(rows),
    insertOutbound: async (m) => (await insertOutboundRow(m, null))!,
    insertOutboundIfUnchanged: (m, version) => insertOutboundRow(m, version),
    async getByIdempotencyKey(instanceId, key) {
      const rows = await sql.query(
        `SELECT ${MESSAGE_COLUMNS} FROM ${s}.messages WHERE instance_id = $1 AND idempotency_key = $2`,
        [instanceId, key],
      );
      return rows[0] ? { message: toMessage(rows[0]), request_hash: rows[0].request_hash ?? null } : null;
    },
    async get(instanceId, id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
      const rows = await sql.query(
        `SELECT ${MESSAGE_COLUMNS} FROM ${s}.messages WHERE instance_id = $1 AND id = $2`,
        [instanceId, id],
      );
      return rows[0] ? toMessage(rows[0]) : null;
    },
    async getByMessageId(instanceId, messageId) {
      const rows = await sql.query(
        `SELECT ${MESSAGE_COLUMNS} FROM ${s}.messages WHERE instance_id = $1 AND message_id = $2`,
        [instanceId, messageId],
      );
      return rows[0] ? toMessage(rows[0]) : null;
    },
    async update(instanceId, id, patch) {
      const rows = await sql.query(
        `UPDATE ${s}.messages SET message_id = COALESCE($3, message_id), status = COALESCE($4, status),
           ts = COALESCE($5::timestamptz, ts)
         WHERE instance_id = $1 AND id = $2 RETURNING ${MESSAGE_COLUMNS}`,
        [instanceId, id, patch.message_id ?? null, patch.status ?? null, patch.timestamp ?? null],
      );
      return rows[0] ? toMessage(rows[0]) : null;
    },
    async list(f) {
      const params: unknown[] = [f.instance_id];
      const where = ['instance_id = $1'];
      if (f.chat_id !== undefined) {
        params.push(f.chat_id);
        where.push(`chat_id = $${params.length}`);
      }
      if (f.before !== undefined) {
        params.push(f.before);
        where.push(`ts < $${params.length}::timestamptz`);
      }
      if (f.cursor) {
        const [ts, id] = decodeCursor(f.cursor, 2);
        params.push(ts, id);
        where.push(`(ts, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
      }
      params.push(f.limit + 1);
      const rows = await sql.query(
        `SELECT ${MESSAGE_COLUMNS} FROM ${s}.messages WHERE ${where.join(' AND ')}
         ORDER BY ts DESC, id DESC LIMIT $${params.length}`,
        params,
      );
      const items = rows.slice(0, f.limit).map(toMessage);
      const last = items[items.length - 1];
      return {
        items,
        next_cursor: rows.length > f.limit && last ? encodeCursor([last.timestamp, last.id]) : null,
      };
    },
    async count(instanceId) {
      const rows = await sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${s}.messages WHERE instance_id = $1`,
        [instanceId],
      );
      return rows[0].n;
    },
    async lockMessageId(instanceId, messageId) {
      await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sb-msg:${instanceId}:${messageId}`]);
    },
    async stashAck(instanceId, messageId, status) {
      await sql.query(
        `INSERT INTO ${s}.pending_acks (instance_id, message_id, status) VALUES ($1, $2, $3)
         ON CONFLICT (instance_id, message_id) DO UPDATE SET status = EXCLUDED.status
         WHERE ${rankSql('EXCLUDED.status')} > ${rankSql(`${s}.pending_acks.status`)}`,
        [instanceId, messageId, status],
      );
    },
    async takeAck(instanceId, messageId) {
      const rows = await sql.query<{ status: MessageStatus }>(
        `DELETE FROM ${s}.pending_acks WHERE instance_id = $1 AND message_id = $2 RETURNING status`,
        [instanceId, messageId],
      );
      return rows[0]?.status ?? null;
    },
  };

  const chats: ChatRepo = {
    touchMany: (cs) => batch.touchChats(cs),
    // One chat is a batch of one: the same statement, so both paths can never drift apart.
    touch: (c) => batch.touchChats([c]),
    async list(f) {
      const params: unknown[] = [f.instance_id];
      let cond = '';
      if (f.cursor) {
        const [at, id] = decodeCursor(f.cursor, 2);
        params.push(at, id);
        cond = `AND (COALESCE(last_message_at, 'epoch'::timestamptz), chat_id) < ($2::timestamptz, $3)`;
      }
      params.push(f.limit + 1);
      const rows = await sql.query(
        `SELECT instance_id::text AS instance_id, chat_id, name, is_group, last_message_at, last_message_preview,
           unread_count FROM ${s}.chats WHERE instance_id = $1 ${cond}
         ORDER BY COALESCE(last_message_at, 'epoch'::timestamptz) DESC, chat_id DESC LIMIT $${params.length}`,
        params,
      );
      const items = rows.slice(0, f.limit).map(toChat);
      const last = items[items.length - 1];
      return {
        items,
        next_cursor:
          rows.length > f.limit && last
            ? encodeCursor([last.last_message_at ?? new Date(0).toISOString(), last.chat_id])
            : null,
      };
    },
    async get(instanceId, chatId) {
      const rows = await sql.query(
        `SELECT instance_id::text AS instance_id, chat_id, name, is_group, last_message_at, last_message_preview,
           unread_count FROM ${s}.chats WHERE instance_id = $1 AND chat_id = $2`,
        [instanceId, chatId],
      );
      return rows[0] ? toChat(rows[0]) : null;
    },
  };

  const contacts: ContactRepo = {
    upsertMany: (cs) => batch.upsertContacts(cs),
    upsert: (c) => batch.upsertContacts([c]),
    async list(f) {
      const params: unknown[] = [f.instance_id];
      const where = ['instance_id = $1'];
      if (f.query) {
        params.push(`%${f.query.replace(/[\\%_]/g, (m) => `\\${m}`)}%`);
        where.push(
          `(name ILIKE $${params.length} OR contact_id ILIKE $${params.length} OR phone ILIKE $${params.length})`,
        );
      }
      if (f.cursor) {
        const [id] = decodeCursor(f.cursor, 1);
        params.push(id);
        where.push(`contact_id > $${params.length}`);
      }
      params.push(f.limit + 1);
      const rows = await sql.query(
        `SELECT instance_id::text AS instance_id, contact_id, name, phone, updated_at FROM ${s}.contacts
         WHERE ${where.join(' AND ')} ORDER BY contact_id LIMIT $${params.length}`,
        params,
      );
      const items: Contact[] = rows.slice(0, f.limit).map((r) => ({
        instance_id: r.instance_id,
        contact_id: r.contact_id,
        name: r.name,
        phone: r.phone,
        updated_at: isoReq(r.updated_at),
      }));
      const last = items[items.length - 1];
      return { items, next_cursor: rows.length > f.limit && last ? encodeCursor([last.contact_id]) : null };
    },
  };

  const events: EventRepo = {
    async append(e: NewLogEvent) {
      return (await batch.appendEvents([e]))[0]!;
    },
    appendMany: (es) => batch.appendEvents(es),
    async listSince(f) {
      const params: unknown[] = [f.since];
      const where = ['id > $1'];
      if (f.company_id !== undefined) {
        params.push(f.company_id);
        where.push(`company_id = $${params.length}`);
      }
      if (f.instance_id !== undefined) {
        params.push(f.instance_id);
        where.push(`instance_id = $${params.length}`);
      }
      if (f.types?.length) {
        params.push(f.types);
        where.push(`type = ANY($${params.length}::text[])`);
      }
      params.push(f.limit);
      const rows = await sql.query(
        `SELECT id, type, instance_id::text AS instance_id, company_id, data, created_at FROM ${s}.events
         WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
        params,
      );
      return rows.map(toEvent);
    },
    async latestId() {
      const rows = await sql.query<{ id: number }>(
        `SELECT COALESCE(max(id), 0)::bigint AS id FROM ${s}.events`,
      );
      return Number(rows[0].id);
    },
    async recentIds(f) {
      // A backward scan of the primary key that stops at the first row old enough (only young rows are read).
      const top = await sql.query<{ id: number }>(
        `SELECT id FROM ${s}.events WHERE created_at <= $1 ORDER BY id DESC LIMIT 1`,
        [f.olderThan.toISOString()],
      );
      const settled = top[0] ? Number(top[0].id) : 0;
      const rows = await sql.query<{ id: number; created_at: unknown }>(
        `SELECT id, created_at FROM ${s}.events WHERE id > $1 ORDER BY id LIMIT $2`,
        [Math.max(f.after, settled), f.limit],
      );
      return { settled, ids: rows.map((r) => ({ id: Number(r.id), created_at: isoReq(r.created_at) })) };
    },
    async deleteOlderOfType(instanceId, type, beforeId) {
      const rows = await sql.query(
        `DELETE FROM ${s}.events WHERE instance_id = $1 AND type = $2 AND id < $3 RETURNING id`,
        [instanceId, type, beforeId],
      );
      if (rows.length) {
        // Their deliveries not yet made would describe a QR that no longer scans.
        await sql.query(
          `DELETE FROM ${s}.webhook_deliveries WHERE status = 'pending' AND event_id = ANY($1::bigint[])`,
          [rows.map((r) => Number(r.id))],
        );
      }
      return rows.length;
    },
  };

  const keys: KeyRepo = {
    async insert(k) {
      const rows = await sql.query(
        `INSERT INTO ${s}.api_keys (kind, prefix, hash, company_id, instance_id, scopes, label, instance_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[]) RETURNING id::text AS id, kind, prefix, hash, company_id,
           instance_id::text AS instance_id, scopes, instance_ids::text[] AS instance_ids, label, created_at, last_used_at, revoked_at`,
        [k.kind, k.prefix, k.hash, k.company_id, k.instance_id, k.scopes, k.label, k.instance_ids ?? null],
      );
      return toKey(rows[0]);
    },
    async findByHash(hash) {
      const rows = await sql.query(
        `SELECT id::text AS id, kind, prefix, hash, company_id, instance_id::text AS instance_id, scopes, instance_ids::text[] AS instance_ids, label,
           created_at, last_used_at, revoked_at FROM ${s}.api_keys WHERE hash = $1 AND revoked_at IS NULL`,
        [hash],
      );
      return rows[0] ? toKey(rows[0]) : null;
    },
    async list(f) {
      const params: unknown[] = [];
      const where = ['revoked_at IS NULL'];
      for (const [col, v] of Object.entries(f)) {
        if (v === undefined) continue;
        params.push(v);
        where.push(`${col === 'instance_id' ? 'instance_id::text' : col} = $${params.length}`);
      }
      const rows = await sql.query(
        `SELECT id::text AS id, kind, prefix, hash, company_id, instance_id::text AS instance_id, scopes, instance_ids::text[] AS instance_ids, label,
           created_at, last_used_at, revoked_at FROM ${s}.api_keys WHERE ${where.join(' AND ')} ORDER BY created_at`,
        params,
      );
      return rows.map(toKey);
    },
    async revoke(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return false;
      const rows = await sql.query(
        `UPDATE ${s}.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
        [id],
      );
      return rows.length > 0;
    },
    async revokeInstanceKeys(instanceId) {
      await sql.query(
        `UPDATE ${s}.api_keys SET revoked_at = now() WHERE instance_id = $1 AND kind = 'instance' AND revoked_at IS NULL`,
        [instanceId],
      );
    },
    async touchMany(ids) {
      if (!ids.length) return;
      await sql.query(
        `UPDATE ${s}.api_keys SET last_used_at = now()
         WHERE id = ANY($1::uuid[]) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 second')`,
        [[...new Set(ids)].sort()],
      );
    },
  };

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

const toChat = (r: Row): Chat => ({
  instance_id: r.instance_id,
  chat_id: r.chat_id,
  name: r.name,
  is_group: r.is_group,
  last_message_at: iso(r.last_message_at),
  last_message_preview: r.last_message_preview,
  unread_count: Number(r.unread_count),
  phone: phoneOfUserJid(r.chat_id),
});

/** The SQL under each store this module made: only storage and tests (through `rawSql`) reach it. */
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
