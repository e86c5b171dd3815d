// The chats and contacts repositories: a chat per conversation, a contact per sender.
import type { Chat, Contact } from '../domain/model.js';
import { phoneOfUserJid } from '../domain/phones.js';
import type { ChatRepo, ContactRepo } from '../ports/store.js';
import type { BatchWrites } from './batch-writes.js';
import { decodeCursor, encodeCursor, iso, isoReq } from './rows.js';
import type { Sql } from './sql.js';

type Row = Record<string, any>;

export const toChat = (r: Row): Chat => ({
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

/** The chats and contacts repositories over one SQL connection (`s`: the quoted schema). */
export function createChatRepos(
  sql: Sql,
  s: string,
  batch: BatchWrites,
): { chats: ChatRepo; contacts: ContactRepo } {
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
  return { chats, contacts };
}
