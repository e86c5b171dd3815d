// The messages repository: inbound and outbound rows, idempotency, chat history, acks.
import { randomUUID } from 'node:crypto';
import type { Message } from '../domain/model.js';
import { phoneOfUserJid } from '../domain/phones.js';
import type { MessageStatus } from '../domain/statuses.js';
import type { MessageRepo, NewMessage, OutboundInsert, OutboundOutcome } from '../ports/store.js';
import { type BatchWrites, rankSql } from './batch-writes.js';
import { VERSION_OF } from './instance-repo.js';
import { decodeCursor, encodeCursor, isoReq, jsonParam as json, messageRecord } from './rows.js';
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
    finaliseSent: (rows, due) => batch.finaliseSent(rows, due),
    insertOutboundMany: (rows) => insertOutboundMany(rows),
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

  /** `insertOutboundMany`: one statement; a key a concurrent transaction committed meanwhile is read after it. */
  async function insertOutboundMany(rows: readonly OutboundInsert[]): Promise<Array<OutboundOutcome | null>> {
    if (!rows.length) return [];
    const ids = rows.map(() => randomUUID());
    const found = await sql.query(insertOutboundSql(s), [outboundSet(rows, ids)]);
    const byOrd: Array<OutboundOutcome | null> = rows.map(() => null);
    for (const r of found) {
      const ord = Number(r.ord);
      // A row this statement inserted wins over the key lookups (which cannot see it, or name another input's).
      if (byOrd[ord]?.inserted) continue;
      byOrd[ord] = {
        message: toMessage(r),
        inserted: r.id === ids[ord],
        request_hash: r.request_hash ?? null,
      };
    }
    // Not inserted and not found: the version moved, or another transaction committed the key after this
    // statement's snapshot was taken (ON CONFLICT waited for it); only the latter is found by reading again.
    return Promise.all(
      byOrd.map(async (out, i) => {
        const key = rows[i].message.idempotency_key;
        if (out || !key) return out;
        const existing = await messages.getByIdempotencyKey(rows[i].message.instance_id, key);
        return existing ? { ...existing, inserted: false } : null;
      }),
    );
  }
  return messages;
}

/** The pending rows of `insertOutboundMany` as the `v` recordset ($1), each under the id chosen for it here. */
const outboundSet = (rows: readonly OutboundInsert[], ids: readonly string[]) =>
  JSON.stringify(
    rows.map(({ message: m, version }, ord) => ({
      ord,
      id: ids[ord],
      instance_id: m.instance_id,
      company_id: m.company_id,
      ...messageRecord(m),
      status: m.status,
      idempotency_key: m.idempotency_key ?? null,
      request_hash: m.request_hash ?? null,
      version,
    })),
  );

/**
 * Inserts the `v` rows in input order — a versioned one only while its instance row is at that version, a repeated
 * key skipped — and returns, per input (`ord`): the row it inserted, else the row its key names, inserted by an
 * earlier input of this statement or stored before it.
 */
const insertOutboundSql = (s: string) => `WITH v AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(ord int, id uuid, instance_id uuid, company_id text,
      message_id text, chat_id text, from_id text, to_id text, body text, type text, is_from_me boolean,
      is_group boolean, group_id text, contact_name text, reply_to text, media jsonb, mentions text[], ts timestamptz,
      status text, idempotency_key text, request_hash text, version text)
  ),
  ins AS (
    INSERT INTO ${s}.messages (id, instance_id, company_id, message_id, chat_id, from_id, to_id, body, type,
      is_from_me, is_group, group_id, contact_name, reply_to, media, status, ts, idempotency_key, request_hash,
      mentions)
    SELECT v.id, v.instance_id, v.company_id, v.message_id, v.chat_id, v.from_id, v.to_id, v.body, v.type,
      v.is_from_me, v.is_group, v.group_id, v.contact_name, v.reply_to, v.media, v.status, v.ts, v.idempotency_key,
      v.request_hash, COALESCE(v.mentions, '{}')
    FROM v
    WHERE v.version IS NULL OR EXISTS (SELECT 1 FROM ${s}.instances i
      WHERE i.id = v.instance_id AND ${VERSION_OF('i.updated_at')} = v.version)
    ORDER BY v.ord
    ON CONFLICT (instance_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING ${MESSAGE_COLUMNS}, idempotency_key
  )
  SELECT v.ord, ins.* FROM v JOIN ins ON ins.instance_id = v.instance_id::text
    AND (ins.id = v.id::text OR ins.idempotency_key = v.idempotency_key)
  UNION ALL
  SELECT v.ord, stored.* FROM v CROSS JOIN LATERAL (
    SELECT ${MESSAGE_COLUMNS}, idempotency_key FROM ${s}.messages
    WHERE instance_id = v.instance_id AND idempotency_key = v.idempotency_key
  ) stored`;
