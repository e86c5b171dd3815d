// History sync storage: one statement stores a batch of history messages and their chats, idempotently.
import type { HistoryBatchResult, HistoryStore } from '../ports/history.js';
import type { ProviderMessage } from '../ports/provider.js';
import { messageRecord } from './rows.js';
import type { SqlRunner } from './sql.js';

/**
 * Inserts history messages with `ON CONFLICT DO NOTHING` on (instance_id, message_id), so a chunk WhatsApp sends
 * twice (or a re-link) never duplicates, and a message already stored live is left untouched. Chats get the
 * newest message's time and preview only when it is newer than what they have; unread counts are not raised.
 * The batch travels as one jsonb parameter (`jsonb_to_recordset`): one round trip whatever its size, on both drivers.
 */
export class HistoryRepo implements HistoryStore {
  constructor(
    private readonly sql: SqlRunner,
    private readonly qschema: string,
  ) {}

  async storeBatch(instanceId: string, messages: readonly ProviderMessage[]): Promise<HistoryBatchResult> {
    const unique = [...new Map(messages.map((m) => [m.message_id, m])).values()];
    if (unique.length === 0) return { stored: 0, duplicates: 0 };
    const rows = unique.map((m) => ({
      ...messageRecord(m),
      status: m.is_from_me ? 'sent' : 'received',
    }));
    const s = this.qschema;
    const out = await this.sql.query<{ n: number }>(
      `WITH src AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS t(message_id text, chat_id text, from_id text, to_id text,
           body text, type text, is_from_me boolean, is_group boolean, group_id text, contact_name text,
           reply_to text, media jsonb, mentions text[], status text, ts timestamptz)
       ), ins AS (
         INSERT INTO ${s}.messages (instance_id, company_id, message_id, chat_id, from_id, to_id, body, type,
           is_from_me, is_group, group_id, contact_name, reply_to, media, mentions, status, ts)
         SELECT i.id, i.company_id, src.message_id, src.chat_id, src.from_id, src.to_id, src.body, src.type,
           src.is_from_me, src.is_group, src.group_id, src.contact_name, src.reply_to, src.media,
           COALESCE(src.mentions, '{}'), src.status, src.ts
         FROM src JOIN ${s}.instances i ON i.id = $1
         ON CONFLICT (instance_id, message_id) DO NOTHING
         RETURNING chat_id, is_group, ts, body, type, contact_name, is_from_me
       ), latest AS (
         SELECT DISTINCT ON (chat_id) chat_id, is_group, ts, body, type FROM ins ORDER BY chat_id, ts DESC
       ), chats AS (
         INSERT INTO ${s}.chats (instance_id, chat_id, name, is_group, last_message_at, last_message_preview,
           unread_count)
         SELECT $1, l.chat_id, CASE WHEN l.is_group THEN NULL ELSE (SELECT max(contact_name) FROM ins
             WHERE ins.chat_id = l.chat_id AND NOT ins.is_from_me) END,
           l.is_group, l.ts, COALESCE(left(l.body, 120), '[' || l.type || ']'), 0
         FROM latest l
         ON CONFLICT (instance_id, chat_id) DO UPDATE SET
           name = COALESCE(${s}.chats.name, EXCLUDED.name),
           last_message_at = GREATEST(${s}.chats.last_message_at, EXCLUDED.last_message_at),
           last_message_preview = CASE WHEN ${s}.chats.last_message_at IS NULL
             OR EXCLUDED.last_message_at >= ${s}.chats.last_message_at
             THEN EXCLUDED.last_message_preview ELSE ${s}.chats.last_message_preview END
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM ins)::int AS n, (SELECT count(*) FROM chats)::int AS c`,
      [instanceId, JSON.stringify(rows)],
    );
    const stored = Number(out[0]?.n ?? 0);
    return { stored, duplicates: unique.length - stored };
  }
}
