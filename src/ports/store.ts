// The storage port: repositories over the system of record, usable alone or inside one transaction.
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
import type { AuthStatus, DesiredState, InstanceStatus, MessageStatus } from '../domain/statuses.js';
import type { ClusterCommandRepo } from './cluster-commands.js';
import type { DeliveryRepo } from './deliveries.js';
import type { HistoryStore } from './history.js';
import type { IdentityStore } from './identities.js';
import type { LeaseRepo } from './leases.js';
import type { LegacyImportRepo } from './legacy-import.js';
import type { McpRepo } from './mcp.js';
import type { MetricsQueries } from './metrics-queries.js';
import type { CompanyConnectionRepo, PoolRepo } from './pool.js';
import type { RetentionRepo } from './retention.js';
import type { UserRepo } from './users.js';
import type { WhatsAppAuthRepo } from './whatsapp-auth.js';

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface CompanyRepo {
  create(c: { id: string; name: string }): Promise<Company | null>;
  ensure(id: string, name?: string): Promise<Company>;
  get(id: string): Promise<Company | null>;
  list(): Promise<Company[]>;
}

export interface NewInstance {
  company_id: string;
  provider: string;
  name: string | null;
  type_instance: string[];
  settings: Record<string, unknown>;
  mcp_schema: Record<string, unknown>;
  desired_state: DesiredState;
  is_pooled?: boolean;
}

export interface InstancePatch {
  name?: string | null;
  type_instance?: string[];
  status?: InstanceStatus;
  auth_status?: AuthStatus;
  desired_state?: DesiredState;
  account?: string | null;
  qr?: string | null;
  settings?: Record<string, unknown>;
  mcp_schema?: Record<string, unknown>;
  is_pooled?: boolean;
  assigned_to?: string | null;
  last_error?: string | null;
  last_activity_at?: string | null;
}

export interface InstanceFilter {
  company_id?: string;
  provider?: string;
  status?: InstanceStatus;
  auth_status?: AuthStatus;
  is_pooled?: boolean;
  limit: number;
  cursor?: string;
}

export interface InstanceRepo {
  create(i: NewInstance): Promise<Instance>;
  get(id: string): Promise<Instance | null>;
  /** Locks the row for the rest of the transaction (FOR UPDATE); outside a transaction same as get. */
  getForUpdate(id: string): Promise<Instance | null>;
  /**
   * The row and its version (`updated_at` to the microsecond; every change of the row but the activity time moves
   * it), for a cache that `insertOutboundMany` validates.
   */
  getVersioned(id: string): Promise<{ instance: Instance; version: string } | null>;
  list(f: InstanceFilter): Promise<Page<Instance>>;
  update(id: string, patch: InstancePatch): Promise<Instance | null>;
  delete(id: string): Promise<boolean>;
  /**
   * Records activity (a message in or out). Writes at most once a second per instance, so busy instances do not
   * queue on their row lock.
   */
  touchActivity(id: string): Promise<void>;
  /** `touchActivity` for many instances in one statement (rows locked in id order). */
  touchActivityMany(ids: readonly string[]): Promise<void>;
  /** Instances the operator wants running (desired_state = running). */
  listDesiredRunning(): Promise<Instance[]>;
  /** Instances a company holds; in a transaction it first locks the company row (quota checks do not race). */
  countForCompany(companyId: string): Promise<number>;
}

/** A message row to insert: the domain message before the store gives it an id and a time. */
export type NewMessage = Omit<Message, 'id' | 'created_at' | 'mentions' | 'sender_phone'> & {
  /** JIDs the message mentions; empty (the default) when none. */
  mentions?: string[];
  idempotency_key?: string | null;
  request_hash?: string | null;
};

/** An inbound message for `ingestMany`: the row, and the phone its sender's contact takes (null: none known). */
export type InboundMessage = NewMessage & { contact_phone: string | null };

/** One provider ack to apply in a batch. */
export interface AckInput {
  instance_id: string;
  message_id: string;
  status: MessageStatus;
}

/** A send the provider accepted: the pending row gets the provider's id. */
export interface SentInput {
  /** The row's id (uuid). */
  id: string;
  instance_id: string;
  /** The provider's message id. */
  message_id: string;
  /** ISO time the provider gave. */
  timestamp: string;
  /**
   * The row was stored under this id before the send (a provider that chooses its ids): acks that came first are
   * on the row itself (`early_status`), so neither the stash nor the message-id lock is needed.
   */
  preassigned?: boolean;
}

/** What a batched ack did: moved a stored message forward, changed nothing, or was stashed (message unknown). */
export type AckOutcome =
  | {
      kind: 'progressed';
      message: Pick<Message, 'id' | 'message_id' | 'chat_id' | 'status'>;
      company_id: string;
    }
  | { kind: 'unchanged' }
  | { kind: 'stashed' };

/** One send's pending row for `insertOutboundMany`: with a `version`, written only while the instance is at it. */
export interface OutboundInsert {
  message: NewMessage;
  version: string | null;
}

/** A pending row written (`inserted`), or the row its Idempotency-Key already names, with that row's request hash. */
export interface OutboundOutcome {
  message: Message;
  inserted: boolean;
  request_hash: string | null;
}

export interface MessageRepo {
  /** Inserts unless (instance_id, message_id) exists; `inserted` false means it was a re-delivery. */
  upsert(m: NewMessage): Promise<{ message: Message; inserted: boolean }>;
  /**
   * Inserts many inbound messages in one statement, in input order. Each row takes its instance's current company
   * (`company_id` is only the fallback of the type); a message whose (instance_id, message_id) is already stored,
   * repeats an earlier input, or whose instance no longer exists is skipped. Returns, per input, the stored row or
   * null when skipped.
   */
  insertMany(ms: readonly NewMessage[]): Promise<Array<Message | null>>;
  /**
   * Stores inbound messages with all they change in ONE statement, atomic without a transaction: the messages (as
   * `insertMany`), then for each one inserted (first input of its id, instance still there) its chat (as
   * `chats.touchMany`), its sender's contact (not from me: as `contacts.upsertMany`), its instance's activity when
   * the instance is in `activityDue` (as `instances.touchActivityMany`) and its `message` event with the outbox rows
   * (as `events.appendMany`, ids drawn in input order). Returns the committed events in id order.
   */
  ingestMany(ms: readonly InboundMessage[], activityDue: readonly string[]): Promise<GatewayEvent[]>;
  /**
   * Applies acks in one statement, in input order: an ack that moves its message forward updates it (several acks of
   * one message count one after another); an ack for a message not recorded yet is stashed (see `stashAck`). An
   * ack for a row still `pending` (stored under a pre-assigned id, its send not yet recorded) is kept on the row
   * (`early_status`) for `recordSent`, without an event. The matched rows are locked (`FOR UPDATE`), so an ack and
   * the `recordSent` of a pre-assigned id serialise without `lockMessageIds`; acks of providers whose ids come
   * from their server still need `lockMessageIds` first in the same transaction.
   */
  applyAcks(acks: readonly AckInput[]): Promise<AckOutcome[]>;
  /**
   * Records accepted sends in one statement: each row takes its provider id and time and becomes `sent` — or the
   * status of an ack stashed for that id meanwhile, or kept on the row (`preassigned`), when further along (the
   * stash is consumed; `late` says which). Run `lockMessageIds` for the ids that are not `preassigned` first in the
   * same transaction. Null for a row that no longer exists.
   */
  recordSent(
    rows: readonly SentInput[],
  ): Promise<Array<{ message: Message; late: MessageStatus | null } | null>>;
  /**
   * `recordSent` of sends whose ids were pre-assigned, with all they change in ONE statement, atomic without a
   * transaction: for each row updated, its chat (as `chats.touchMany`: time and preview, no unread), its instance's
   * activity when in `activityDue`, and its `message` event — showing it `sent` when an ack got it further, that
   * ack then following as its own `message.ack` — with the outbox rows, in input order. Returns per input the stored
   * message (its status the furthest) or null when its row is gone, and the committed events in id order.
   */
  finaliseSent(
    rows: readonly SentInput[],
    activityDue: readonly string[],
  ): Promise<{ results: Array<Message | null>; events: GatewayEvent[] }>;
  /** `lockMessageId` for many ids in one statement, in a stable order (take it before any row lock). */
  lockMessageIds(keys: ReadonlyArray<{ instance_id: string; message_id: string }>): Promise<void>;
  get(instanceId: string, id: string): Promise<Message | null>;
  getByIdempotencyKey(
    instanceId: string,
    key: string,
  ): Promise<{ message: Message; request_hash: string | null } | null>;
  /**
   * Many sends' pending rows in ONE statement (atomic without a transaction); a row with a `version` is written
   * only while its instance row is still at it (see `getVersioned`). Returns per input, in order: the row inserted;
   * or, for an Idempotency-Key already used (stored before, or by an earlier input of the same batch), that row
   * with `inserted` false; or null when the instance row moved past `version` (nothing written).
   */
  insertOutboundMany(rows: readonly OutboundInsert[]): Promise<Array<OutboundOutcome | null>>;
  getByMessageId(instanceId: string, messageId: string): Promise<Message | null>;
  update(
    instanceId: string,
    id: string,
    patch: { message_id?: string; status?: MessageStatus; timestamp?: string },
  ): Promise<Message | null>;
  list(f: {
    instance_id: string;
    chat_id?: string;
    before?: string;
    limit: number;
    cursor?: string;
  }): Promise<Page<Message>>;
  count(instanceId: string): Promise<number>;
  /**
   * Serialises, until the transaction ends, everyone recording or acking this provider message id (a
   * transaction-scoped lock, safe behind a transaction-mode pooler).
   */
  lockMessageId(instanceId: string, messageId: string): Promise<void>;
  /** Keeps an ack whose message is not recorded yet (the most advanced status wins). */
  stashAck(instanceId: string, messageId: string, status: MessageStatus): Promise<void>;
  /** Removes and returns a stashed ack for a message id, if any. */
  takeAck(instanceId: string, messageId: string): Promise<MessageStatus | null>;
}

/** A message seen in a chat: moves its last message forward and adds to its unread count. */
export interface ChatTouch {
  instance_id: string;
  chat_id: string;
  name: string | null;
  is_group: boolean;
  /** ISO time of the message. */
  at: string;
  preview: string | null;
  unread_delta: number;
}

export interface ContactInput {
  instance_id: string;
  contact_id: string;
  name: string | null;
  phone: string | null;
}

export interface ChatRepo {
  touch(c: ChatTouch): Promise<void>;
  /**
   * The same as calling `touch` for each in order, in one statement: entries of one chat are aggregated first
   * and rows are written in (instance_id, chat_id) order.
   */
  touchMany(cs: readonly ChatTouch[]): Promise<void>;
  list(f: { instance_id: string; limit: number; cursor?: string }): Promise<Page<Chat>>;
  get(instanceId: string, chatId: string): Promise<Chat | null>;
}

export interface ContactRepo {
  upsert(c: ContactInput): Promise<void>;
  /** The same as `upsert` for each in order, in one statement (aggregated per contact, written in key order). */
  upsertMany(cs: readonly ContactInput[]): Promise<void>;
  list(f: { instance_id: string; query?: string; limit: number; cursor?: string }): Promise<Page<Contact>>;
}

export interface EventRepo {
  append(e: NewLogEvent): Promise<GatewayEvent>;
  /**
   * Appends events in one statement with their outbox rows; ids are given in input order and the written events
   * come back in that order.
   */
  appendMany(es: readonly NewLogEvent[]): Promise<GatewayEvent[]>;
  /** Events with id > since, oldest first. */
  listSince(f: {
    since: number;
    limit: number;
    company_id?: string;
    instance_id?: string;
    types?: string[];
    /** Ids left out of the read (the log tail's own events, which it holds already). */
    exclude?: readonly number[];
  }): Promise<GatewayEvent[]>;
  latestId(): Promise<number>;
  /**
   * The commit frontier after `after`, for gap-free replay: `settled` is the highest id created at or before
   * `olderThan` (0 when none), `ids` the committed ids above max(after, settled), oldest first (at most `limit`).
   */
  recentIds(f: {
    after: number;
    olderThan: Date;
    limit: number;
  }): Promise<{ settled: number; ids: Array<{ id: number; created_at: string }> }>;
  /** Deletes the events of `type` of an instance older than `beforeId` (QR coalescing); returns how many. */
  deleteOlderOfType(instanceId: string, type: string, beforeId: number): Promise<number>;
}

export interface KeyRepo {
  insert(k: Omit<ApiKeyRecord, 'id' | 'created_at' | 'last_used_at' | 'revoked_at'>): Promise<ApiKeyRecord>;
  findByHash(hash: string): Promise<ApiKeyRecord | null>;
  /** `findByHash` for many hashes in one statement: one answer per input, in order. */
  findManyByHash(hashes: readonly string[]): Promise<Array<ApiKeyRecord | null>>;
  list(f: { company_id?: string; kind?: string; instance_id?: string }): Promise<ApiKeyRecord[]>;
  revoke(id: string): Promise<boolean>;
  revokeInstanceKeys(instanceId: string): Promise<void>;
  /** Records that the keys were used now, in one statement (rows in id order; a key stamped within the last second is left). */
  touchMany(ids: readonly string[]): Promise<void>;
}

export interface MetaRepo {
  get(key: string): Promise<string | null>;
  /** Sets the value only if absent; returns the value now stored. */
  setIfAbsent(key: string, value: string): Promise<string>;
}

/** Repositories that work the same on their own or within a transaction. */
export interface Repos {
  companies: CompanyRepo;
  instances: InstanceRepo;
  messages: MessageRepo;
  chats: ChatRepo;
  contacts: ContactRepo;
  events: EventRepo;
  keys: KeyRepo;
  meta: MetaRepo;
  leases: LeaseRepo;
  clusterCommands: ClusterCommandRepo;
  whatsappAuth: WhatsAppAuthRepo;
  metricsQueries: MetricsQueries;
  legacyImport: LegacyImportRepo;
  mcp: McpRepo;
  users: UserRepo;
  pool: PoolRepo;
  connections: CompanyConnectionRepo;
  deliveries: DeliveryRepo;
  history: HistoryStore;
  retention: RetentionRepo;
}

export interface Store extends Repos {
  readonly kind: 'postgres' | 'pglite';
  readonly schema: string;
  /** WhatsApp LID ↔ phone identities (a new pair merges rows in a transaction of its own). */
  readonly identities: IdentityStore;
  /** Runs fn in one transaction; everything written through `tx` commits or rolls back together. */
  tx<T>(fn: (tx: Repos) => Promise<T>): Promise<T>;
  /** Throws if the database cannot be reached. */
  ping(): Promise<void>;
  /** Versions of migrations not yet applied (empty when up to date). */
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;
}
