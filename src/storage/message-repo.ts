// The messages repository: inbound and outbound rows, idempotency, chat history, acks.
import type { Message } from '../domain/model.js';
import { phoneOfUserJid } from '../domain/phones.js';
import type { MessageStatus } from '../domain/statuses.js';
import type { MessageRepo, NewMessage } from '../ports/store.js';
import { type BatchWrites, rankSql } from './batch-writes.js';
import { VERSION_OF } from './instance-repo.js';
import { decodeCursor, encodeCursor, isoReq, jsonParam as json } from './rows.js';
import type { Sql } from './sql.js';

type Row = Record<string, any>;

export const MESSAGE_COLUMNS = `id::text AS id, instance_id::text AS instance_id, company_id, message_id, chat_id, from_id, to_id,
  body, type, is_from_me, is_group, group_id, contact_name, reply_to, media, mentions, status, ts, created_at,
  request_hash`;

export const toMessage = (r: Row): Message => ({
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

/** The messages repository over one SQL connection (`s`: the quoted schema). */
export function createMessageRepo(sql: Sql, s: string, batch: BatchWrites): MessageRepo {
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
  return messages;
}
