// The deliveries port: webhook, agent and sink endpoints and their delivery outbox (claims, outcomes, replays).

import type { EndpointKind } from '../domain/endpoint-kinds.js';

/** The endpoint kinds (the sinks among them: SINK_KINDS) are listed once, in src/domain/endpoint-kinds.ts. */
export type { EndpointKind };
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** An endpoint as stored. `secret` (webhook signing secret or agent API key) never leaves the server. */
export interface WebhookEndpoint {
  id: string;
  company_id: string;
  instance_id: string | null;
  kind: EndpointKind;
  url: string;
  events: string[];
  inbound_only: boolean;
  include_groups: boolean;
  enabled: boolean;
  secret: string | null;
  previous_secret: string | null;
  previous_expires_at: string | null;
  options: Record<string, unknown>;
  /** Broker credentials of a sink (JSON), write-only: never in a view or a log line. */
  credentials: string | null;
  disabled_reason: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
}

export interface Delivery {
  id: number;
  endpoint_id: string;
  event_id: number;
  company_id: string;
  instance_id: string | null;
  chat_key: string | null;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  response_excerpt: string | null;
  delivered_at: string | null;
  created_at: string;
  event_type?: string;
}

/** A claimed delivery with what is needed to send it. */
export interface ClaimedDelivery {
  delivery: Delivery;
  endpoint: WebhookEndpoint;
  event: {
    id: number;
    type: string;
    instance_id: string | null;
    company_id: string;
    created_at: string;
    data: Record<string, unknown>;
  };
}

export interface NewEndpoint {
  company_id: string;
  instance_id: string | null;
  kind: EndpointKind;
  url: string;
  events: string[];
  inbound_only?: boolean;
  include_groups?: boolean;
  enabled: boolean;
  secret: string | null;
  options?: Record<string, unknown>;
  credentials?: string | null;
}

export type EndpointPatch = Partial<
  Pick<
    WebhookEndpoint,
    | 'url'
    | 'events'
    | 'enabled'
    | 'inbound_only'
    | 'include_groups'
    | 'secret'
    | 'previous_secret'
    | 'previous_expires_at'
    | 'options'
    | 'credentials'
    | 'disabled_reason'
    | 'failing_since'
  >
>;

/** In-flight caps of one claim: per endpoint, per event sink (default `perEndpoint`), and what is already busy. */
export interface ClaimCaps {
  perEndpoint: number;
  perSink?: number;
  /** Attempts each endpoint (by id) already has in flight in this process. */
  busy?: ReadonlyMap<string, number>;
  /**
   * Per endpoint (by id), the chat key where its previous claim stopped: its chats are taken from the next key on,
   * round the end and back to the start (round robin, so a busy endpoint serves every chat in turn). See claimCursor.
   */
  after?: ReadonlyMap<string, string>;
}

/**
 * The cursor to pass as `caps.after` for an endpoint after a claim that took `keys` (the chat keys it claimed of that
 * endpoint, chatless ones left out) with cursor `prev`: the last chat the claim's walk took.
 */
export function claimCursor(prev: string | undefined, keys: readonly string[]): string | undefined {
  if (!keys.length) return prev;
  const last = (ks: readonly string[]) => [...ks].sort().at(-1);
  const wrapped = prev === undefined ? [] : keys.filter((k) => k <= prev);
  return last(wrapped.length ? wrapped : keys);
}

/** The outcome of one attempt, recorded on a still-pending delivery. */
export interface AttemptRecord {
  status: DeliveryStatus;
  next_attempt_at?: Date;
  code: number | null;
  error: string | null;
  excerpt: string | null;
  at: Date;
}

/** Endpoint and delivery storage, bound to the pool or to one transaction. */
export interface DeliveryRepo {
  /** The endpoint, or null (also for an id that is not a uuid). */
  getEndpoint(id: string): Promise<WebhookEndpoint | null>;
  /** The endpoint of that kind bound to the instance, if any. */
  instanceEndpoint(instanceId: string, kind: EndpointKind): Promise<WebhookEndpoint | null>;
  /**
   * Endpoints of an instance, or the company-wide endpoints of a company (instance_id null), of the given kinds
   * (default: webhook and agent endpoints; sinks are listed by their own API), oldest first.
   */
  listEndpoints(
    f: { instance_id: string } | { company_id: string },
    kinds?: readonly EndpointKind[],
  ): Promise<WebhookEndpoint[]>;
  /** Every endpoint of the given kinds in a company (company-wide and per instance), oldest first. */
  listCompanyEndpoints(companyId: string, kinds: readonly EndpointKind[]): Promise<WebhookEndpoint[]>;
  insertEndpoint(e: NewEndpoint): Promise<WebhookEndpoint>;
  /** Sets the given fields (undefined ones are left) and `updated_at`; null when the endpoint does not exist. */
  updateEndpoint(id: string, patch: EndpointPatch): Promise<WebhookEndpoint | null>;
  deleteEndpoint(id: string): Promise<boolean>;
  /**
   * Claims due deliveries with FOR UPDATE SKIP LOCKED in one statement (on the pool or in a transaction). A
   * delivery is skipped while an earlier pending delivery of the same endpoint and chat exists (per-chat order). At
   * most `caps.perEndpoint` deliveries of one endpoint are in flight: `caps.busy` says how many each endpoint already
   * has in this process, and an endpoint's share of one claim is limited accordingly, so one endpoint's backlog or a
   * hanging receiver never takes the slots of the others; event sinks (SINK_KINDS) take `caps.perSink`. Claimed
   * rows get `attempts + 1` and a lease (`next_attempt_at = leaseUntil`): a worker that dies leaves them to be
   * retried. The cost of a claim does not grow with the depth of the backlog; the chats of an endpoint are walked in
   * chat-key order from `caps.after` and the walk stops once the endpoint's free slots are filled.
   */
  claim(now: Date, leaseUntil: Date, limit: number, caps?: ClaimCaps): Promise<ClaimedDelivery[]>;
  /**
   * Gives back claimed deliveries that were never attempted: `attempts - 1` and due again at their claim time. Only
   * rows still pending under this claim's lease (`next_attempt_at = leaseUntil`) change, so a row whose lease ran out
   * and that another worker claimed is left alone. Returns how many were given back.
   */
  release(ids: readonly number[], leaseUntil: Date): Promise<number>;
  /** Records the outcome of an attempt. Only a still-pending delivery is changed (replays are not clobbered). */
  record(id: number, r: AttemptRecord): Promise<void>;
  /** Marks deliveries delivered (still-pending ones only) and clears their endpoints' failure state, in one statement. */
  recordDelivered(
    items: ReadonlyArray<{ id: number; code: number | null; excerpt: string | null }>,
    at: Date,
  ): Promise<void>;
  /** Marks an endpoint failing since `at` (kept if already failing); returns since when it has been failing. */
  noteFailure(endpointId: string, at: Date): Promise<Date>;
  /** Disables an endpoint; true when it was enabled (so the caller emits the event once). */
  disable(endpointId: string, reason: string): Promise<boolean>;
  /** An endpoint's deliveries, newest first, paged by id (`before`), optionally of one status. */
  listDeliveries(f: {
    endpoint_id: string;
    status?: DeliveryStatus;
    limit: number;
    before?: number;
  }): Promise<{ items: Delivery[]; next_cursor: string | null }>;
  /** Puts deliveries back to pending with a fresh schedule: one by id, or all of `statuses` created since a time. */
  replay(
    endpointId: string,
    what: { id: number } | { since: Date; statuses: DeliveryStatus[] },
    now: Date,
  ): Promise<number>;
  /** Pending deliveries in the whole outbox (for the outbox-depth gauge). */
  depth(): Promise<number>;
}

/** Events whose append also queued deliveries, marked in this process by the store (never serialised). */
const queued = new WeakSet<object>();

/** Marks an event whose append queued deliveries; returns it. */
export function markQueued<T extends object>(event: T): T {
  queued.add(event);
  return event;
}

/** True when this process appended the event and the append queued deliveries (the worker claims only then). */
export const queuedDeliveries = (event: object): boolean => queued.has(event);
