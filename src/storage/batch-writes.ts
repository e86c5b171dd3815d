// Batched writes for group commit: one statement per table for many facts (jsonb_to_recordset), stable lock order.
import { DEPLOYMENT_COMPANY, type GatewayEvent, type Message, type NewLogEvent } from '../domain/model.js';
import { phoneOfUserJid } from '../domain/phones.js';
import { ACK_ORDER, type MessageStatus } from '../domain/statuses.js';
import { markQueued } from '../ports/deliveries.js';
import type {
  AckInput,
  AckOutcome,
  ChatTouch,
  ContactInput,
  InboundMessage,
  NewMessage,
  SentInput,
} from '../ports/store.js';
import { messageRecord } from './rows.js';
import type { Sql } from './sql.js';

type Row = Record<string, any>;

/** The SQL rank of a delivery status: domain/statuses.ts's ACK_ORDER as a CASE (an unknown or NULL status is 0). */
export const rankSql = (v: string) =>
  `CASE ${v} ${Object.entries(ACK_ORDER)
    .filter(([, rank]) => rank !== 0)
    .map(([status, rank]) => `WHEN '${status}' THEN ${rank}`)
    .join(' ')} ELSE 0 END`;

const key = (a: string, b: string) => `${a}\u0000${b}`;

/** Sorts by (instance_id, second key) in code-unit order: every batch writer locks rows in the same order. */
function byKey<T>(items: Map<string, T>): T[] {
  return [...items.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** Merges chat touches per chat exactly as applying them one after another would. */
export function aggregateChats(cs: readonly ChatTouch[]): ChatTouch[] {
  const out = new Map<string, ChatTouch>();
  for (const c of cs) {
    const k = key(c.instance_id, c.chat_id);
    const agg = out.get(k);
    if (!agg) {
      out.set(k, { ...c });
      continue;
    }
    agg.name = c.name ?? agg.name;
    // Later touches win ties, as the one-by-one upsert (`>=`) does.
    if (Date.parse(c.at) >= Date.parse(agg.at)) {
      agg.at = c.at;
      agg.preview = c.preview;
    }
    agg.unread_delta += c.unread_delta;
  }
  return byKey(out);
}

/** Merges contact upserts per contact (the latest non-null name and phone win). */
export function aggregateContacts(cs: readonly ContactInput[]): ContactInput[] {
  const out = new Map<string, ContactInput>();
  for (const c of cs) {
    const k = key(c.instance_id, c.contact_id);
    const agg = out.get(k);
    if (!agg) out.set(k, { ...c });
    else {
      agg.name = c.name ?? agg.name;
      agg.phone = c.phone ?? agg.phone;
    }
  }
  return byKey(out);
}

/** Characters (code points) of a message body a chat keeps as its preview (core/inbound-writer.ts: chatPreview). */
const PREVIEW_CHARS = 120;

/**
 * A chat's preview of a message, inbound or sent, in SQL: the body's first 120 code points (PostgreSQL's `left`
 * counts code points, so a character outside the BMP is never cut in half), else `[type]` for an empty or absent
 * body. The same rule as core/inbound-writer.ts's `chatPreview`.
 */
const previewSql = (body: string, type: string) =>
  `COALESCE(NULLIF(left(${body}, ${PREVIEW_CHARS}), ''), '[' || ${type} || ']')`;

/** A timestamptz as JavaScript's toISOString() writes it (milliseconds truncated, as `pg` reads them). */
const isoSql = (v: string) => `to_char(${v} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The messages of a batch as the `v` recordset ($1): the row's columns plus what `ingestMany` derives. */
const MESSAGE_SET = `jsonb_to_recordset($1::jsonb) AS v(ord int, instance_id uuid, message_id text, chat_id text,
  from_id text, to_id text, body text, type text, is_from_me boolean, is_group boolean, group_id text,
  contact_name text, reply_to text, media jsonb, status text, ts timestamptz, idempotency_key text, request_hash text,
  mentions text[], sender_phone text, contact_phone text)`;

const messageSet = (ms: ReadonlyArray<NewMessage & { contact_phone?: string | null }>) =>
  JSON.stringify(
    ms.map((m, ord) => ({
      ord,
      instance_id: m.instance_id,
      ...messageRecord(m),
      status: m.status,
      idempotency_key: m.idempotency_key ?? null,
      request_hash: m.request_hash ?? null,
      sender_phone: phoneOfUserJid(m.from),
      contact_phone: m.contact_phone ?? null,
    })),
  );

/** Inserts the `v` rows in input order (each takes its instance's current company); a stored id is skipped. */
const insertMessages = (s: string) =>
  `INSERT INTO ${s}.messages (instance_id, company_id, message_id, chat_id, from_id, to_id, body, type,
     is_from_me, is_group, group_id, contact_name, reply_to, media, status, ts, idempotency_key, request_hash,
     mentions)
   SELECT v.instance_id, i.company_id, v.message_id, v.chat_id, v.from_id, v.to_id, v.body, v.type,
     v.is_from_me, v.is_group, v.group_id, v.contact_name, v.reply_to, v.media, v.status, v.ts,
     v.idempotency_key, v.request_hash, COALESCE(v.mentions, '{}')
   FROM v JOIN ${s}.instances i ON i.id = v.instance_id
   ORDER BY v.ord
   ON CONFLICT (instance_id, message_id) DO NOTHING`;

const upsertChats = (s: string) =>
  `INSERT INTO ${s}.chats (instance_id, chat_id, name, is_group, last_message_at, last_message_preview,
     unread_count)`;

/** A chat touch onto its row: the latest message's time and preview, unread counts added, a known name kept. */
const onChatConflict = (s: string) =>
  `ON CONFLICT (instance_id, chat_id) DO UPDATE SET
     name = COALESCE(EXCLUDED.name, ${s}.chats.name),
     last_message_at = GREATEST(${s}.chats.last_message_at, EXCLUDED.last_message_at),
     last_message_preview = CASE WHEN ${s}.chats.last_message_at IS NULL
       OR EXCLUDED.last_message_at >= ${s}.chats.last_message_at
       THEN EXCLUDED.last_message_preview ELSE ${s}.chats.last_message_preview END,
     unread_count = ${s}.chats.unread_count + EXCLUDED.unread_count`;

const upsertContacts = (s: string) => `INSERT INTO ${s}.contacts (instance_id, contact_id, name, phone)`;

const onContactConflict = (s: string) =>
  `ON CONFLICT (instance_id, contact_id) DO UPDATE SET name = COALESCE(EXCLUDED.name, ${s}.contacts.name),
     phone = COALESCE(EXCLUDED.phone, ${s}.contacts.phone), updated_at = now()`;

/** Stamps the activity of the instances in the uuid[] parameter `ids`, at most once a second each. */
const touchActivity = (s: string, ids: string) =>
  `UPDATE ${s}.instances SET last_activity_at = now()
   WHERE id = ANY(${ids}::uuid[]) AND (last_activity_at IS NULL OR last_activity_at < now() - interval '1 second')`;

/**
 * The delivery's ordering key: the event's instance and chat (`<instance id>:<chat id>`; the chat id alone for an
 * event of no instance), null for an event without a chat. A chat id alone would serialise the same contact's
 * conversations with two of a company's numbers.
 */
const chatKey = (ev: string) => {
  const chat = `COALESCE(${ev}.data->'message'->>'chat_id', ${ev}.data->>'chat_id')`;
  // `||` with a null chat gives null: an event without a chat stays unordered.
  return `CASE WHEN ${ev}.instance_id IS NULL THEN ${chat} ELSE ${ev}.instance_id::text || ':' || ${chat} END`;
};

/** Transactional outbox: the deliveries of the webhook/agent endpoints matching each inserted event (`ev`). */
export const outbox = (s: string) =>
  `INSERT INTO ${s}.webhook_deliveries (endpoint_id, event_id, company_id, instance_id, chat_key)
   SELECT w.id, ev.id, ev.company_id, ev.instance_id, ${chatKey('ev')}
   FROM ev JOIN ${s}.webhook_endpoints w ON w.enabled
     AND (w.company_id = ev.company_id OR w.company_id = '${DEPLOYMENT_COMPANY}')
     AND (w.instance_id IS NULL OR w.instance_id = ev.instance_id)
     AND (cardinality(w.events) = 0 OR ev.type = ANY(w.events))
     AND (NOT w.inbound_only OR (ev.data->'message'->>'is_from_me') = 'false')
     AND (w.include_groups OR (ev.data->'message'->>'is_group') IS DISTINCT FROM 'true')
     AND (ev.data->>'endpoint_id') IS DISTINCT FROM w.id::text
   ORDER BY ev.id, w.id`;

/**
 * A message row's columns as the JSON of its `Message` (storage/message-repo.ts: toMessage), with its status and
 * sender phone given as SQL expressions.
 */
const messageJson = (status: string, senderPhone: string) =>
  `jsonb_build_object(
     'id', id::text, 'instance_id', instance_id::text, 'company_id', company_id, 'message_id', message_id,
     'chat_id', chat_id, 'from', from_id, 'to', to_id, 'body', body, 'type', type, 'is_from_me', is_from_me,
     'is_group', is_group, 'group_id', group_id, 'contact_name', contact_name, 'reply_to', reply_to,
     'media', media, 'mentions', to_jsonb(COALESCE(mentions, '{}')), 'status', ${status},
     'timestamp', ${isoSql('ts')}, 'created_at', ${isoSql('created_at')}, 'sender_phone', ${senderPhone})`;

/** domain/phones.ts's phoneOfUserJid in SQL: `+<digits>` of a WhatsApp user JID, else NULL. */
const phoneOfUserJidSql = (jid: string) =>
  `'+' || substring(${jid} from '^([0-9]{5,20})(?::[0-9]+)?@(?:s\\.whatsapp\\.net|c\\.us)$')`;

/** The appended events in id order, each with whether the outbox part queued deliveries for it (`queued`). */
const selectQueued = `SELECT id, type, instance_id::text AS instance_id, company_id, data, created_at,
    id IN (SELECT event_id FROM outbox) AS queued
  FROM ev ORDER BY id`;

/** Accepted sends as the `v` recordset ($1) of recordSent and finaliseSent. */
const sentSet = `v AS (SELECT * FROM jsonb_to_recordset($1::jsonb)
  AS v(ord int, row_id uuid, inst uuid, mid text, sent_at timestamptz, pre boolean))`;

const sentParam = (rows: readonly SentInput[]) =>
  JSON.stringify(
    rows.map((r, ord) => ({
      ord,
      row_id: r.id,
      inst: r.instance_id,
      mid: r.message_id,
      sent_at: r.timestamp,
      pre: r.preassigned === true,
    })),
  );

/** The acks stashed for sends whose ids the server assigned (`late`), consumed. */
const sentLate = (s: string) =>
  `late AS (
     DELETE FROM ${s}.pending_acks p USING v
     WHERE NOT v.pre AND p.instance_id = v.inst AND p.message_id = v.mid
     RETURNING p.instance_id AS late_inst, p.message_id AS late_mid, p.status AS late_status)`;

/**
 * Each send's row (joined through `from`, which holds `v`) takes its provider id and time and becomes `sent`, or
 * the furthest of a stashed ack (server-assigned ids) and one kept on the row (pre-assigned ids) when beyond
 * `sent`. The recordset's columns are named apart from messages' so RETURNING's unqualified columns stay
 * unambiguous; the UPDATE reads the row as it is once its lock is held, so an ack committed meanwhile is never missed.
 */
const sentUpdate = (s: string, from: string) => {
  const best = `CASE WHEN ${rankSql('late.late_status')} >= ${rankSql(`${s}.messages.early_status`)}
    THEN late.late_status ELSE ${s}.messages.early_status END`;
  return `UPDATE ${s}.messages SET message_id = v.mid, ts = v.sent_at, early_status = NULL,
      status = CASE WHEN ${rankSql(best)} > 1 THEN ${best} ELSE 'sent' END
    FROM ${from} LEFT JOIN late ON late.late_inst = v.inst AND late.late_mid = v.mid
    WHERE ${s}.messages.id = v.row_id AND ${s}.messages.instance_id = v.inst`;
};

/** In an updated send's RETURNING: its status when an ack got it beyond `sent`, else NULL. */
const lateOf = (s: string) =>
  `CASE WHEN ${rankSql(`${s}.messages.status`)} > 1 THEN ${s}.messages.status END`;

export interface BatchWriteDeps {
  sql: Sql;
  /** Quoted schema. */
  s: string;
  messageColumns: string;
  toMessage(r: Row): Message;
  toEvent(r: Row): GatewayEvent;
}

/** The batched repository methods over one connection (inside a transaction: the transaction's). */
export function createBatchWrites({ sql, s, messageColumns, toMessage, toEvent }: BatchWriteDeps) {
  // Events whose append queued deliveries are marked for the local outbox worker (it claims only after those).
  const eventOf = (r: Row): GatewayEvent => (r.queued ? markQueued(toEvent(r)) : toEvent(r));
  return {
    async insertMany(ms: readonly NewMessage[]): Promise<Array<Message | null>> {
      if (!ms.length) return [];
      const rows = await sql.query(
        `WITH v AS (SELECT * FROM ${MESSAGE_SET}) ${insertMessages(s)} RETURNING ${messageColumns}`,
        [messageSet(ms)],
      );
      const inserted = new Map<string, Message>();
      for (const r of rows) inserted.set(key(r.instance_id, r.message_id), toMessage(r));
      // The first input of a key owns its row; a repeat in the same batch is a re-delivery like any other.
      return ms.map((m) => {
        if (m.message_id === null) return null;
        const k = key(m.instance_id, m.message_id);
        const row = inserted.get(k) ?? null;
        inserted.delete(k);
        return row;
      });
    },

    async ingestMany(ms: readonly InboundMessage[], activityDue: readonly string[]): Promise<GatewayEvent[]> {
      if (!ms.length) return [];
      // One statement, so one round trip and no BEGIN/COMMIT: every part below reads the inserted rows (`n`: the
      // first input of each id that was inserted), never a table another part writes. Chats and contacts are
      // aggregated per key as aggregateChats/aggregateContacts do, in key order.
      const rows = await sql.query(
        `WITH v AS (SELECT * FROM ${MESSAGE_SET}),
         ins AS (${insertMessages(s)} RETURNING id, instance_id, company_id, message_id, created_at),
         n AS (
           SELECT DISTINCT ON (v.instance_id, v.message_id) v.*, ins.id, ins.company_id, ins.created_at,
             ${previewSql('v.body', 'v.type')} AS preview
           FROM v JOIN ins ON ins.instance_id = v.instance_id AND ins.message_id = v.message_id
           ORDER BY v.instance_id, v.message_id, v.ord),
         chats AS (${upsertChats(s)}
           SELECT instance_id, chat_id,
             (array_agg(contact_name ORDER BY ord DESC) FILTER (WHERE NOT is_group AND contact_name IS NOT NULL))[1],
             (array_agg(is_group ORDER BY ord))[1], max(ts), (array_agg(preview ORDER BY ts DESC, ord DESC))[1],
             count(*) FILTER (WHERE NOT is_from_me)
           FROM n GROUP BY instance_id, chat_id ORDER BY instance_id, chat_id COLLATE "C"
           ${onChatConflict(s)}),
         contacts AS (${upsertContacts(s)}
           SELECT instance_id, from_id,
             (array_agg(contact_name ORDER BY ord DESC) FILTER (WHERE contact_name IS NOT NULL))[1],
             (array_agg(contact_phone ORDER BY ord DESC) FILTER (WHERE contact_phone IS NOT NULL))[1]
           FROM n WHERE NOT is_from_me AND from_id <> ''
           GROUP BY instance_id, from_id ORDER BY instance_id, from_id COLLATE "C"
           ${onContactConflict(s)}),
         activity AS (${touchActivity(s, '$2')} AND id IN (SELECT instance_id FROM n)),
         ev AS (INSERT INTO ${s}.events (type, instance_id, company_id, data)
           SELECT 'message', instance_id, company_id, jsonb_build_object('message', ${messageJson('status', 'sender_phone')})
           FROM n ORDER BY ord
           RETURNING id, type, instance_id, company_id, data, created_at),
         outbox AS (${outbox(s)} RETURNING event_id)
         ${selectQueued}`,
        [messageSet(ms), [...new Set(activityDue)].sort()],
      );
      return rows.map(eventOf);
    },

    async recordSent(
      rows: readonly SentInput[],
    ): Promise<Array<{ message: Message; late: MessageStatus | null } | null>> {
      if (!rows.length) return [];
      const out = await sql.query(
        `WITH ${sentSet}, ${sentLate(s)}
         ${sentUpdate(s, 'v')}
         RETURNING ${messageColumns}, ${lateOf(s)} AS late`,
        [sentParam(rows)],
      );
      const byId = new Map(out.map((r) => [r.id as string, r]));
      return rows.map((r) => {
        const row = byId.get(r.id);
        return row ? { message: toMessage(row), late: (row.late as MessageStatus | null) ?? null } : null;
      });
    },

    async finaliseSent(
      rows: readonly SentInput[],
      activityDue: readonly string[],
    ): Promise<{ results: Array<Message | null>; events: GatewayEvent[] }> {
      if (!rows.length) return { results: [], events: [] };
      // One statement, atomic without a transaction, for sends whose ids were pre-assigned (no message-id lock, no
      // stash): recordSent's update (rows locked in id order first), then — reading only the updated rows `u` —
      // the chats (aggregated as aggregateChats does, in key order), the instances' activity, and per send its
      // `message` event (showing it `sent` when an ack overtook it) followed by that ack's own `message.ack`.
      const events = (
        await sql.query(
          `WITH ${sentSet}, ${sentLate(s)},
           lk AS (SELECT m.id AS lk_id FROM ${s}.messages m JOIN v ON m.id = v.row_id AND m.instance_id = v.inst
             ORDER BY m.id FOR UPDATE OF m),
           u AS (${sentUpdate(s, 'v JOIN lk ON lk.lk_id = v.row_id')}
             RETURNING v.ord, ${s}.messages.id, instance_id, company_id, message_id, chat_id, from_id, to_id, body,
               type, is_from_me, is_group, group_id, contact_name, reply_to, media, mentions, status, ts, created_at,
               ${lateOf(s)} AS late),
           p AS (SELECT u.*, date_trunc('milliseconds', ts) AS at, ${previewSql('body', 'type')} AS preview FROM u),
           chats AS (${upsertChats(s)}
             SELECT instance_id, chat_id, NULL, (array_agg(is_group ORDER BY ord))[1], max(at),
               (array_agg(preview ORDER BY at DESC, ord DESC))[1], 0
             FROM p GROUP BY instance_id, chat_id ORDER BY instance_id, chat_id COLLATE "C"
             ${onChatConflict(s)}),
           activity AS (${touchActivity(s, '$2')} AND id IN (SELECT instance_id FROM u)),
           ev AS (INSERT INTO ${s}.events (type, instance_id, company_id, data)
             SELECT e.type, e.instance_id, e.company_id, e.data FROM (
               SELECT ord, 0 AS k, 'message' AS type, instance_id, company_id, jsonb_build_object('message',
                 ${messageJson("CASE WHEN late IS NULL THEN status ELSE 'sent' END", phoneOfUserJidSql('from_id'))}) AS data
               FROM u
               UNION ALL
               SELECT ord, 1, 'message.ack', instance_id, company_id, jsonb_build_object('id', id::text,
                 'message_id', message_id, 'chat_id', chat_id, 'status', late)
               FROM u WHERE late IS NOT NULL) e
             ORDER BY e.ord, e.k
             RETURNING id, type, instance_id, company_id, data, created_at),
           outbox AS (${outbox(s)} RETURNING event_id)
           ${selectQueued}`,
          [sentParam(rows), [...new Set(activityDue)].sort()],
        )
      ).map(eventOf);
      // Each stored send's message is its `message` event's, with the status of the ack that follows it, if any.
      const byId = new Map<string, Message>();
      events.forEach((e, k) => {
        if (e.type !== 'message') return;
        const m = e.data.message as Message;
        const next = events[k + 1];
        const late =
          next?.type === 'message.ack' && next.data.id === m.id ? (next.data.status as MessageStatus) : null;
        byId.set(m.id, late ? { ...m, status: late } : { ...m });
      });
      return { results: rows.map((r) => byId.get(r.id) ?? null), events };
    },

    async lockMessageIds(keys: ReadonlyArray<{ instance_id: string; message_id: string }>): Promise<void> {
      if (!keys.length) return;
      // Sorted by the lock key itself, so two batches (or a batch and a send) never wait on each other in a cycle.
      await sql.query(
        `SELECT count(pg_advisory_xact_lock(h))::int AS n FROM (
           SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS locks`,
        [[...new Set(keys.map((k) => `sb-msg:${k.instance_id}:${k.message_id}`))]],
      );
    },

    async applyAcks(acks: readonly AckInput[]): Promise<AckOutcome[]> {
      if (!acks.length) return [];
      const rows = await sql.query(
        `WITH v AS (
           SELECT v.ord, v.instance_id, v.message_id, v.status, ${rankSql('v.status')} AS r
           FROM jsonb_to_recordset($1::jsonb) AS v(ord int, instance_id uuid, message_id text, status text)),
         m AS (
           SELECT m.id, m.instance_id, m.message_id, m.chat_id, m.company_id, ${rankSql('m.status')} AS r,
             m.status = 'pending' AS early
           FROM ${s}.messages m WHERE (m.instance_id, m.message_id) IN (SELECT instance_id, message_id FROM v)
           ORDER BY m.id FOR UPDATE),
         seq AS (
           SELECT v.ord, v.status, v.r, m.id, m.message_id, m.chat_id, m.company_id,
             GREATEST(m.r, max(v.r) OVER (PARTITION BY v.instance_id, v.message_id ORDER BY v.ord
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS before
           FROM v JOIN m ON m.instance_id = v.instance_id AND m.message_id = v.message_id AND NOT m.early),
         upd AS (
           UPDATE ${s}.messages t SET status = u.status
           FROM (SELECT DISTINCT ON (id) id, status FROM seq WHERE r > before ORDER BY id, r DESC) u
           WHERE t.id = u.id RETURNING t.id),
         early AS (
           UPDATE ${s}.messages t SET early_status = e.status
           FROM (SELECT DISTINCT ON (m.id) m.id, v.status, v.r FROM v JOIN m ON m.instance_id = v.instance_id
                   AND m.message_id = v.message_id AND m.early
                 ORDER BY m.id, v.r DESC) e
           WHERE t.id = e.id AND e.r > ${rankSql('t.early_status')} RETURNING t.id),
         stash AS (
           INSERT INTO ${s}.pending_acks (instance_id, message_id, status)
           SELECT DISTINCT ON (v.instance_id, v.message_id) v.instance_id, v.message_id, v.status FROM v
           WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.instance_id = v.instance_id AND m.message_id = v.message_id)
             AND EXISTS (SELECT 1 FROM ${s}.instances i WHERE i.id = v.instance_id)
           ORDER BY v.instance_id, v.message_id, v.r DESC
           ON CONFLICT (instance_id, message_id) DO UPDATE SET status = EXCLUDED.status
           WHERE ${rankSql('EXCLUDED.status')} > ${rankSql(`${s}.pending_acks.status`)}
           RETURNING 1)
         SELECT v.ord, seq.id::text AS id, seq.message_id, seq.chat_id, seq.status, (seq.r > seq.before) AS progressed,
           COALESCE(i.company_id, seq.company_id) AS company_id, (seq.id IS NULL) AS unknown,
           (SELECT count(*) FROM upd)::int AS updated, (SELECT count(*) FROM stash)::int AS stashed,
           (SELECT count(*) FROM early)::int AS kept
         FROM v LEFT JOIN seq ON seq.ord = v.ord LEFT JOIN ${s}.instances i ON i.id = v.instance_id
         ORDER BY v.ord`,
        [
          JSON.stringify(
            acks.map((a, ord) => ({
              ord,
              instance_id: a.instance_id,
              message_id: a.message_id,
              status: a.status,
            })),
          ),
        ],
      );
      return rows.map((r): AckOutcome => {
        if (r.unknown) return { kind: 'stashed' };
        // GREATEST over a first ack (no earlier one in the batch) is the stored status alone.
        if (!r.progressed) return { kind: 'unchanged' };
        return {
          kind: 'progressed',
          message: { id: r.id, message_id: r.message_id, chat_id: r.chat_id, status: r.status },
          company_id: r.company_id,
        };
      });
    },

    async touchChats(cs: readonly ChatTouch[]): Promise<void> {
      const rows = aggregateChats(cs);
      if (!rows.length) return;
      await sql.query(
        `${upsertChats(s)}
         SELECT instance_id, chat_id, name, is_group, at, preview, unread
         FROM jsonb_to_recordset($1::jsonb) AS v(ord int, instance_id uuid, chat_id text, name text,
           is_group boolean, at timestamptz, preview text, unread int)
         ORDER BY ord
         ${onChatConflict(s)}`,
        [
          JSON.stringify(
            rows.map((c, ord) => ({
              ord,
              instance_id: c.instance_id,
              chat_id: c.chat_id,
              name: c.name,
              is_group: c.is_group,
              at: c.at,
              preview: c.preview,
              unread: c.unread_delta,
            })),
          ),
        ],
      );
    },

    async upsertContacts(cs: readonly ContactInput[]): Promise<void> {
      const rows = aggregateContacts(cs);
      if (!rows.length) return;
      await sql.query(
        `${upsertContacts(s)}
         SELECT instance_id, contact_id, name, phone
         FROM jsonb_to_recordset($1::jsonb) AS v(ord int, instance_id uuid, contact_id text, name text, phone text)
         ORDER BY ord
         ${onContactConflict(s)}`,
        [JSON.stringify(rows.map((c, ord) => ({ ord, ...c })))],
      );
    },

    async touchActivityMany(ids: readonly string[]): Promise<void> {
      const sorted = [...new Set(ids)].sort();
      if (!sorted.length) return;
      await sql.query(touchActivity(s, '$1'), [sorted]);
    },

    async appendEvents(es: readonly NewLogEvent[]): Promise<GatewayEvent[]> {
      if (!es.length) return [];
      // Transactional outbox: the deliveries of matching webhook/agent endpoints are enqueued in the same statement.
      // Ids are drawn in input order (the INSERT consumes the sorted rows one by one).
      const rows = await sql.query(
        `WITH ev AS (INSERT INTO ${s}.events (type, instance_id, company_id, data)
           SELECT v.type, v.instance_id, v.company_id, COALESCE(v.data, '{}'::jsonb)
           FROM jsonb_to_recordset($1::jsonb) AS v(ord int, type text, instance_id uuid, company_id text, data jsonb)
           ORDER BY v.ord
           RETURNING id, type, instance_id, company_id, data, created_at),
         outbox AS (${outbox(s)} RETURNING event_id)
         ${selectQueued}`,
        [
          JSON.stringify(
            es.map((e, ord) => ({
              ord,
              type: e.type,
              instance_id: e.instance_id,
              company_id: e.company_id,
              data: e.data,
            })),
          ),
        ],
      );
      return rows.map(eventOf);
    },
  };
}

/** The batched repository methods (what `createBatchWrites` returns). */
export type BatchWrites = ReturnType<typeof createBatchWrites>;
