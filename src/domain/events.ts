// The event log's payloads: one zod schema per event type for its `data`, the union every emitter must build, and
// the source of the OpenAPI `webhooks` payload schemas and the dashboard's event types (issue 19, one source per shape).
import { z } from 'zod';
import { ENDPOINT_KINDS } from './endpoint-kinds.js';
import type { Message } from './model.js';
import { AUTH_STATUSES, INSTANCE_STATUSES, INSTANCE_TYPES, MESSAGE_STATUSES } from './statuses.js';

/** A stored message as the API and the `message` event show it (the component `Message`). */
export const messageSchema = z
  .object({
    id: z.string(),
    instance_id: z.string(),
    company_id: z.string(),
    message_id: z.string().nullable(),
    chat_id: z.string(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    body: z.string().nullable(),
    type: z.string(),
    is_from_me: z.boolean(),
    is_group: z.boolean(),
    group_id: z.string().nullable(),
    contact_name: z.string().nullable(),
    reply_to: z.string().nullable(),
    media: z.record(z.string(), z.unknown()).nullable(),
    mentions: z
      .array(z.string())
      .describe('JIDs the message mentions (WhatsApp `<digits>@s.whatsapp.net`, or a LID); empty when none.'),
    status: z.enum(MESSAGE_STATUSES),
    timestamp: z.string(),
    created_at: z.string(),
    sender_phone: z
      .string()
      .nullable()
      .optional()
      .describe('Sender phone (E.164) when known; a WhatsApp LID sender gets it once its phone is learned.'),
  })
  .meta({ id: 'Message' });

// The stored Message and its schema are the same shape (a field added to one and not the other fails tsc).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const messageShapesAgree: Same<Message, z.infer<typeof messageSchema>> = true;
void messageShapesAgree;

const historyCounts = {
  received: z.number().int(),
  stored: z.number().int(),
  duplicates: z.number().int(),
  too_old: z.number().int().describe('Older than the configured history window: not stored.'),
  skipped: z.number().int().describe('Not user content (protocol messages, stubs): not stored.'),
};

/** What a webhook/agent delivery that gave up (or whose endpoint was disabled) reports. */
const deliveryFacts = {
  endpoint_id: z.string(),
  kind: z.enum(ENDPOINT_KINDS),
  delivery_id: z.number().int(),
  event_id: z.number().int(),
  event_type: z.string(),
  attempts: z.number().int(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
};
const deliveryFailed = z.strictObject(deliveryFacts);

const groupParticipant = z.strictObject({
  id: z.string(),
  phone: z.string().nullable(),
  admin: z.enum(['admin', 'superadmin']).nullable(),
});

/** The `data` of each event type. Strict: a field not listed here is drift, and the event-log test fails on it. */
export const EVENT_DATA = {
  'instance.status': z
    .strictObject({
      status: z.enum(INSTANCE_STATUSES),
      auth_status: z.enum(AUTH_STATUSES),
      previous_status: z.enum(INSTANCE_STATUSES),
      previous_auth_status: z.enum(AUTH_STATUSES),
      account: z.string().nullable(),
      reason: z.string().optional(),
    })
    .describe('The instance status or messenger login changed.'),
  qr: z.strictObject({ qr: z.string() }).describe('A new QR code to scan (the log keeps only the latest).'),
  connected: z
    .strictObject({ account: z.string().nullable(), phone: z.string().nullable() })
    .describe('The messenger session is logged in and ready.'),
  message: z
    .strictObject({ message: messageSchema })
    .describe('A message was received, or one sent through the gateway was accepted by the messenger.'),
  'message.ack': z
    .strictObject({
      id: z.string().describe('The gateway message id.'),
      message_id: z.string().nullable().describe("The messenger's message id."),
      chat_id: z.string(),
      status: z.enum(MESSAGE_STATUSES),
    })
    .describe('A sent message progressed (delivered, read).'),
  logout: z
    .strictObject({ reason: z.string(), account: z.string().nullable() })
    .describe('The messenger login ended (requested, or the device was removed on the phone).'),
  error: z
    .strictObject({
      message: z.string(),
      code: z.string().nullable(),
      id: z.string().optional().describe('The gateway message id, when a send failed.'),
    })
    .describe('A session or send failure.'),
  reconnect_failed: z.strictObject({ attempts: z.number().int() }).describe('Reconnecting gave up.'),
  health_check_failed: z
    .strictObject({ reason: z.string(), since_answer_ms: z.number().optional() })
    .describe('The messenger connection stopped answering.'),
  'history.progress': z
    .strictObject({
      sync_type: z.string(),
      progress: z.number().nullable(),
      ...historyCounts,
      chats: z.number().int(),
      contacts: z.number().int(),
      complete: z.boolean(),
    })
    .describe('One history-sync chunk was stored.'),
  'history.synced': z
    .strictObject({ sync_type: z.string(), ...historyCounts })
    .describe('A history sync completed; the counts sum every chunk.'),
  'message.decrypt_failed': z
    .strictObject({
      message_id: z.string(),
      chat_id: z.string(),
      from: z.string().nullable(),
      error: z.string(),
      attempts: z.number().int(),
      timestamp: z.string(),
    })
    .describe('A message could not be decrypted, also after the sender was asked to re-send it.'),
  'group.participants': z
    .strictObject({
      group_id: z.string(),
      action: z.enum(['add', 'remove', 'promote', 'demote', 'modify']),
      author: z.string().nullable(),
      author_phone: z.string().nullable(),
      participants: z.array(z.strictObject({ id: z.string(), phone: z.string().nullable() })),
    })
    .describe('Group participants were added, removed, promoted or demoted.'),
  'group.update': z
    .discriminatedUnion('action', [
      z.strictObject({
        action: z.literal('create'),
        group: z.strictObject({
          id: z.string(),
          subject: z.string(),
          description: z.string().nullable(),
          owner: z.string().nullable(),
          owner_phone: z.string().nullable(),
          created_at: z.string().nullable(),
          size: z.number().int(),
          announce: z.boolean(),
          restrict: z.boolean(),
          participants: z.array(groupParticipant),
        }),
      }),
      z.strictObject({
        action: z.literal('update'),
        group_id: z.string(),
        author: z.string(),
        changes: z.record(z.string(), z.unknown()),
      }),
    ])
    .describe('A group appeared (create) or its subject, description or settings changed (update).'),
  'instance.created': z
    .strictObject({
      provider: z.string(),
      name: z.string().nullable(),
      type_instance: z.array(z.enum(INSTANCE_TYPES)),
      company_session: z.literal(true).optional(),
      pooled: z.literal(true).optional(),
    })
    .describe('An instance was created.'),
  'instance.deleted': z
    .strictObject({ provider: z.string(), name: z.string().nullable() })
    .describe('An instance was deleted.'),
  'key.revoked': z
    .strictObject({ key_ids: z.array(z.string()), reason: z.string() })
    .describe('API keys were revoked; their sockets close.'),
  'pool.assigned': z
    .strictObject({ name: z.string().nullable(), provider: z.string() })
    .describe('A pooled instance was assigned to the company.'),
  'pool.released': z
    .strictObject({ name: z.string().nullable(), reason: z.string() })
    .describe('A pooled instance was released by the company.'),
  'webhook.disabled': z
    .strictObject({
      ...deliveryFacts,
      reason: z.enum(['gone', 'failing']),
      failing_since: z.string().optional(),
    })
    .describe('An endpoint was disabled (it answered 410, or kept failing).'),
  'webhook.exhausted': deliveryFailed.describe('A webhook delivery gave up after its last retry.'),
  'agent.failed': deliveryFailed.describe('An agent delivery gave up after its last retry.'),
} as const;

export type EventType = keyof typeof EVENT_DATA;
/** Every event type, derived from the schemas. */
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];

/** An event type a webhook or sink subscribes to, as given: `message`, `message.ack`, a `*` pattern, … */
export const eventTypeFilter = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9_.*]+$/, 'an event type such as message');

/** The `data` of one event type. */
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

/** An event before the log gives it an id and a time: type and data must agree. */
export type NewEvent = {
  [T in EventType]: { type: T; instance_id: string | null; company_id: string; data: EventData<T> };
}[EventType];

/** One entry of the event log, typed by its `type`. */
export type DomainEvent = NewEvent & { id: number; created_at: string };

/**
 * One entry of the event log as read back (the same shape on every channel). Readers narrow with `isEventOf`: a log
 * written by an older version may hold types this one does not know.
 */
export interface GatewayEvent {
  id: number;
  type: EventType | (string & {});
  instance_id: string | null;
  company_id: string;
  created_at: string;
  data: Record<string, unknown>;
}

/** An entry as the log stores it, before its id and time: any type and data (emitters build the typed NewEvent). */
export type NewLogEvent = Omit<GatewayEvent, 'id' | 'created_at'>;

/** Narrows a log entry to one event type (trusting the writer; the event-log test checks the writers). */
export function isEventOf<T extends EventType>(
  e: GatewayEvent,
  type: T,
): e is GatewayEvent & Extract<DomainEvent, { type: T }> {
  return e.type === type;
}

/** `message.ack` → `MessageAck`: the name part of an event's components and operation ids. */
export function eventTypeName(type: string): string {
  return type
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

// Named components (`MessageAckEventData` …): the OpenAPI document collects every schema registered with an id.
for (const [type, schema] of Object.entries(EVENT_DATA) as Array<[string, z.ZodType]>) {
  schema.register(z.globalRegistry, {
    ...z.globalRegistry.get(schema),
    id: `${eventTypeName(type)}EventData`,
  });
}
