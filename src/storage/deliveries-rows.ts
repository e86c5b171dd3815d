// Endpoint and delivery rows: the columns the deliveries repository selects and their mappers to port records.
import type { Delivery, WebhookEndpoint } from '../ports/deliveries.js';
import { iso } from './rows.js';

type Row = Record<string, any>;

export const ENDPOINT_COLS = `id::text AS id, company_id, instance_id::text AS instance_id, kind, url, events, inbound_only,
  include_groups, enabled, secret, previous_secret, previous_expires_at, options, credentials, disabled_reason,
  failing_since, created_at, updated_at`;

const ENDPOINT_FIELDS = ENDPOINT_COLS.split(',').map((c) =>
  c
    .trim()
    .split(/\s+AS\s+/i)
    .pop()!
    .replace(/::text$/, ''),
);
/** The endpoint columns of `w` prefixed `w_` (to select them beside a delivery). */
export const ENDPOINT_COLS_W = ENDPOINT_FIELDS.map(
  (f) => `w.${f}${f === 'id' || f === 'instance_id' ? '::text' : ''} AS w_${f}`,
).join(', ');

export const toEndpoint = (r: Row, prefix = ''): WebhookEndpoint => ({
  id: r[`${prefix}id`],
  company_id: r[`${prefix}company_id`],
  instance_id: r[`${prefix}instance_id`],
  kind: r[`${prefix}kind`],
  url: r[`${prefix}url`],
  events: r[`${prefix}events`] ?? [],
  inbound_only: r[`${prefix}inbound_only`],
  include_groups: r[`${prefix}include_groups`],
  enabled: r[`${prefix}enabled`],
  secret: r[`${prefix}secret`],
  previous_secret: r[`${prefix}previous_secret`],
  previous_expires_at: iso(r[`${prefix}previous_expires_at`]),
  options: r[`${prefix}options`] ?? {},
  credentials: r[`${prefix}credentials`] ?? null,
  disabled_reason: r[`${prefix}disabled_reason`],
  failing_since: iso(r[`${prefix}failing_since`]),
  created_at: iso(r[`${prefix}created_at`])!,
  updated_at: iso(r[`${prefix}updated_at`])!,
});

export const DELIVERY_COLS = `d.id, d.endpoint_id::text AS endpoint_id, d.event_id, d.company_id, d.instance_id::text AS instance_id,
  d.chat_key, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error,
  d.response_excerpt, d.delivered_at, d.created_at`;

export const toDelivery = (r: Row): Delivery => ({
  id: Number(r.id),
  endpoint_id: r.endpoint_id,
  event_id: Number(r.event_id),
  company_id: r.company_id,
  instance_id: r.instance_id,
  chat_key: r.chat_key,
  status: r.status,
  attempts: Number(r.attempts),
  next_attempt_at: iso(r.next_attempt_at)!,
  last_attempt_at: iso(r.last_attempt_at),
  last_status_code: r.last_status_code === null ? null : Number(r.last_status_code),
  last_error: r.last_error,
  response_excerpt: r.response_excerpt,
  delivered_at: iso(r.delivered_at),
  created_at: iso(r.created_at)!,
  ...(r.event_type !== undefined ? { event_type: r.event_type } : {}),
});
