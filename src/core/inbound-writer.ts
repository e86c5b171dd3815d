// The group-committed write of provider facts (inbound messages, acks): one short transaction per batch.
import type { GatewayEvent, Message, NewEvent } from '../domain/model.js';
import type { MessageStatus } from '../domain/statuses.js';
import type { EventBus } from '../ports/event-bus.js';
import type { SpoolRecord } from '../ports/spool.js';
import type { AckInput, ChatTouch, ContactInput, NewMessage, SentInput, Store } from '../ports/store.js';
import { phoneOfJid } from './addressing.js';
import { GroupCommitter } from './group-commit.js';

type AckEvent = Extract<NewEvent, { type: 'message.ack' }>;

/** A fact the writer batches: an inbound message, an ack, or a send the provider accepted (its finalise step). */
export type InboundFact =
  | { kind: 'message'; rec: SpoolRecord }
  | {
      kind: 'ack';
      instance_id: string;
      message_id: string;
      status: MessageStatus;
      /** The instance's provider stores each send under its final id first: no message-id lock is needed. */
      preassigned?: boolean;
    }
  | { kind: 'sent'; sent: SentInput };

/** Per fact: the stored message for `sent` (null when its row is gone), null for the others. */
export type FactResult = Message | null;

export interface InboundWriterDeps {
  store: Store;
  bus: EventBus;
  /** Most facts in one transaction (default 500). */
  maxBatch?: number;
  /** Writes `last_activity_at` at most this often per instance from this process, in ms (default 1000). */
  activityIntervalMs?: number;
}

/**
 * A chat's preview of a message, inbound or sent (the one rule): the body's first 120 code points, so a character
 * outside the BMP counts once and is never cut in half (a lone surrogate is text PostgreSQL's jsonb refuses), else
 * `[type]` for an empty or absent body. `ingestMany` and `finaliseSent` cut the same way in SQL (`left` counts code
 * points).
 */
export function chatPreview(body: string | null | undefined, type: string): string {
  if (!body) return `[${type}]`;
  if (body.length <= 120) return body;
  let out = '';
  let n = 0;
  for (const ch of body) {
    if (n++ === 120) break;
    out += ch;
  }
  return out;
}

/** The row of a provider message: its fields (optional ones empty), the tenant, and its first status. */
const toNewMessage = ({ message: m, instance_id, company_id }: SpoolRecord): NewMessage => ({
  ...m,
  group_id: m.group_id ?? null,
  contact_name: m.contact_name ?? null,
  reply_to: m.reply_to ?? null,
  media: m.media ?? null,
  mentions: m.mentions ?? [],
  instance_id,
  company_id,
  status: m.is_from_me ? 'sent' : 'received',
});

/**
 * Creates the writer. A batch is one transaction in a fixed lock order — message-id locks (acks and sends of
 * server-assigned ids), messages, chats (aggregated per chat), contacts, instance activity, acks, then events with
 * their outbox rows — one statement each, skipped when empty; its events are published after commit, in the order
 * the facts arrived. A message already stored (re-delivery) writes nothing and publishes nothing, as before.
 * Two kinds of batch take one statement instead, atomic without a transaction: inbound messages alone
 * (`ingestMany`) and sends of pre-assigned ids alone (`finaliseSent`), with the same rows and events.
 */
export function createInboundWriter(deps: InboundWriterDeps): GroupCommitter<InboundFact, FactResult> {
  const interval = deps.activityIntervalMs ?? 1000;
  const lastActivity = new Map<string, number>();

  /** The instances whose activity is due (not written from this process within the interval). */
  const activityDue = (ids: Iterable<string>, now: number) =>
    [...new Set(ids)].filter((id) => now - (lastActivity.get(id) ?? Number.NEGATIVE_INFINITY) >= interval);

  // Inbound messages alone (the common batch under load): one statement, atomic by itself, no transaction.
  const ingest = async (recs: readonly SpoolRecord[]): Promise<FactResult[]> => {
    const now = Date.now();
    const due = activityDue(
      recs.map((r) => r.instance_id),
      now,
    );
    const written = await deps.store.messages.ingestMany(
      recs.map((rec) => ({
        ...toNewMessage(rec),
        contact_phone: rec.message.contact_phone ?? (rec.message.from ? phoneOfJid(rec.message.from) : null),
      })),
      due,
    );
    const stored = new Set(written.map((e) => e.instance_id));
    for (const id of due) if (stored.has(id)) lastActivity.set(id, now);
    if (written.length) deps.bus.publish(written);
    return recs.map(() => null);
  };

  // Sends of pre-assigned ids alone (a batch of sends under load): one statement too, no transaction.
  const finalise = async (sends: readonly SentInput[]): Promise<FactResult[]> => {
    const now = Date.now();
    const due = activityDue(
      sends.map((s) => s.instance_id),
      now,
    );
    const { results, events } = await deps.store.messages.finaliseSent(sends, due);
    const stored = new Set(results.flatMap((m) => (m ? [m.instance_id] : [])));
    for (const id of due) if (stored.has(id)) lastActivity.set(id, now);
    if (events.length) deps.bus.publish(events);
    return results;
  };

  const flush = async (facts: readonly InboundFact[]): Promise<FactResult[]> => {
    if (facts.every((f) => f.kind === 'message')) return ingest(facts.map((f) => f.rec));
    const pre: SentInput[] = [];
    for (const f of facts) if (f.kind === 'sent' && f.sent.preassigned) pre.push(f.sent);
    if (pre.length === facts.length) return finalise(pre);
    const messages: NewMessage[] = [];
    const recs: SpoolRecord[] = [];
    const acks: AckInput[] = [];
    const sends: SentInput[] = [];
    // Only ids a server assigns need the message-id lock: a pre-assigned row exists before its send, and its acks
    // and its send serialise on the row's own lock.
    const locks: Array<{ instance_id: string; message_id: string }> = [];
    for (const f of facts) {
      if (f.kind === 'message') {
        messages.push(toNewMessage(f.rec));
        recs.push(f.rec);
      } else if (f.kind === 'ack') {
        acks.push({ instance_id: f.instance_id, message_id: f.message_id, status: f.status });
        if (!f.preassigned) locks.push(f);
      } else {
        sends.push(f.sent);
        if (!f.sent.preassigned) locks.push(f.sent);
      }
    }
    const results: FactResult[] = facts.map(() => null);
    const now = Date.now();
    let touched: string[] = [];
    const written: GatewayEvent[] = await deps.store.tx(async (tx) => {
      await tx.messages.lockMessageIds(locks);
      const rows = await tx.messages.insertMany(messages);
      const sent = await tx.messages.recordSent(sends);
      const chats: ChatTouch[] = [];
      const contacts: ContactInput[] = [];
      const active = new Set<string>();
      rows.forEach((row, k) => {
        if (!row) return;
        const m = recs[k]!.message;
        chats.push({
          instance_id: row.instance_id,
          chat_id: m.chat_id,
          name: m.is_group ? null : (m.contact_name ?? null),
          is_group: m.is_group,
          at: m.timestamp,
          preview: chatPreview(m.body, m.type),
          unread_delta: m.is_from_me ? 0 : 1,
        });
        if (!m.is_from_me && m.from) {
          contacts.push({
            instance_id: row.instance_id,
            contact_id: m.from,
            name: m.contact_name ?? null,
            phone: m.contact_phone ?? phoneOfJid(m.from),
          });
        }
        active.add(row.instance_id);
      });
      for (const r of sent) {
        if (!r) continue;
        const m = r.message;
        chats.push({
          instance_id: m.instance_id,
          chat_id: m.chat_id,
          name: null,
          is_group: m.is_group,
          at: m.timestamp,
          preview: chatPreview(m.body, m.type),
          unread_delta: 0,
        });
        active.add(m.instance_id);
      }
      await tx.chats.touchMany(chats);
      await tx.contacts.upsertMany(contacts);
      touched = activityDue(active, now);
      await tx.instances.touchActivityMany(touched);
      const outcomes = await tx.messages.applyAcks(acks);
      // Events in the order the facts arrived.
      const events: NewEvent[] = [];
      let mi = 0;
      let ai = 0;
      let si = 0;
      // An ack that arrived before its send's finalise in the same batch is applied after it (statements run in
      // table order): its event is held back to follow the send's own event, as it would across two batches.
      const sentAt = new Map<string, number>();
      facts.forEach((f, i) => {
        if (f.kind === 'sent') sentAt.set(`${f.sent.instance_id}\u0000${f.sent.message_id}`, i);
      });
      const heldBack = new Map<string, AckEvent[]>();
      facts.forEach((f, i) => {
        if (f.kind === 'sent') {
          const r = sent[si++];
          if (!r) return;
          const key = `${f.sent.instance_id}\u0000${f.sent.message_id}`;
          const held = heldBack.get(key) ?? [];
          const m = held.length ? { ...r.message, status: held[held.length - 1]!.data.status } : r.message;
          results[i] = m;
          // The send's own event shows it sent; an ack that overtook the commit follows as its own event.
          events.push({
            type: 'message',
            instance_id: m.instance_id,
            company_id: m.company_id,
            data: { message: r.late || held.length ? { ...m, status: 'sent' } : m },
          });
          if (r.late) {
            events.push({
              type: 'message.ack',
              instance_id: m.instance_id,
              company_id: m.company_id,
              data: { id: m.id, message_id: m.message_id, chat_id: m.chat_id, status: r.late },
            });
          }
          events.push(...held);
          return;
        }
        if (f.kind === 'message') {
          const row = rows[mi++];
          if (row) {
            events.push({
              type: 'message',
              instance_id: row.instance_id,
              company_id: row.company_id,
              data: { message: row },
            });
          }
          return;
        }
        const o = outcomes[ai++];
        if (o?.kind !== 'progressed') return;
        const key = `${f.instance_id}\u0000${f.message_id}`;
        const ack: AckEvent = {
          type: 'message.ack',
          instance_id: f.instance_id,
          company_id: o.company_id,
          data: {
            id: o.message.id,
            message_id: o.message.message_id,
            chat_id: o.message.chat_id,
            status: o.message.status,
          },
        };
        if ((sentAt.get(key) ?? -1) > i) heldBack.set(key, [...(heldBack.get(key) ?? []), ack]);
        else events.push(ack);
      });
      return tx.events.appendMany(events);
    });
    for (const id of touched) lastActivity.set(id, now);
    if (written.length) deps.bus.publish(written);
    return results;
  };

  return new GroupCommitter(flush, { maxBatch: deps.maxBatch });
}
