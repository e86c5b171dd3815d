// Event sink settings: the request schemas, the stored form (url, options, write-only credentials), templates, views.
import { z } from 'zod';
import type { SinkKind } from '../../domain/endpoint-kinds.js';
import { eventTypeFilter } from '../../domain/events.js';
import type { NewEndpoint, WebhookEndpoint } from '../../ports/deliveries.js';

/** The default routing key / subject: one token per company, instance and event type (`.` inside a type kept). */
export const DEFAULT_TEMPLATE = 'switchboard.{company_id}.{instance_id}.{type}';
/** The JetStream stream a NATS sink publishes into when none is named. */
export const DEFAULT_STREAM = 'SWITCHBOARD';
/** The default MQTT topic: one level per company, instance and event type (a type keeps its dots: `message.ack`). */
export const DEFAULT_TOPIC = 'switchboard/{company_id}/{instance_id}/{type}';

const PLACEHOLDERS = ['company_id', 'instance_id', 'type', 'event_id'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

/**
 * A routing key or subject template: dot-separated tokens of letters, digits, `_`, `-` and placeholders
 * `{company_id}`, `{instance_id}`, `{type}`, `{event_id}`; the first token is literal (it names the stream's subjects).
 */
export const templateSchema = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .refine(
    (t) =>
      t
        .split('.')
        .every((tok) => /^(?:[A-Za-z0-9_-]|\{(?:company_id|instance_id|type|event_id)\})+$/.test(tok)),
    'dot-separated tokens of letters, digits, _ and - with {company_id}, {instance_id}, {type}, {event_id}',
  )
  .refine((t) => !t.split('.')[0].includes('{'), 'the first token must be literal (e.g. switchboard)');

/**
 * An MQTT topic template: `/`-separated levels of letters, digits, `_`, `-`, `.` and the placeholders above; no
 * wildcards (`+`, `#`), no empty level, and a literal first level that does not start with `$` (broker topics).
 */
export const topicTemplateSchema = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .refine((t) => !/[+#]/.test(t), 'no wildcards (+ or #) in a published topic')
  .refine(
    (t) =>
      t
        .split('/')
        .every((lvl) => /^(?:[A-Za-z0-9_.-]|\{(?:company_id|instance_id|type|event_id)\})+$/.test(lvl)),
    '/-separated levels of letters, digits, _, - and . with {company_id}, {instance_id}, {type}, {event_id}',
  )
  .refine(
    (t) => !t.split('/')[0].includes('{') && !t.startsWith('$'),
    'the first level must be literal (e.g. switchboard) and not start with $',
  );

/** Renders a template for one event. Ids become single tokens (`.` → `_`); a type keeps its dots. */
export function renderTemplate(
  template: string,
  e: { id: number; type: string; company_id: string; instance_id: string | null },
): string {
  const token = (v: string) => v.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
  const values: Record<Placeholder, string> = {
    company_id: token(e.company_id),
    instance_id: e.instance_id ? token(e.instance_id) : '_',
    type: e.type.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+|\.+$/g, '') || '_',
    event_id: String(e.id),
  };
  return template.replace(/\{(company_id|instance_id|type|event_id)\}/g, (_, k: Placeholder) => values[k]);
}

/** The stream subjects that cover every subject a template renders: its literal first token followed by `>`. */
export function streamSubjects(template: string): string[] {
  return [`${template.split('.')[0]}.>`];
}

const common = {
  company_id: z.string().trim().min(1).max(64).optional().describe('Defaults to the key’s company.'),
  instance_id: z
    .uuid()
    .optional()
    .describe('Only this instance’s events; omitted = every instance of the company.'),
  events: z
    .array(eventTypeFilter)
    .max(50)
    .optional()
    .describe('Event types to publish; empty or omitted = all.'),
  enabled: z.boolean().optional(),
  inbound_only: z.boolean().optional().describe('Only messages not sent by us (message events).'),
  include_groups: z.boolean().optional().describe('Group messages too (default true).'),
};
const amqpUrl = z
  .url({ protocol: /^amqps?$/, message: 'must be an amqp:// or amqps:// URL' })
  .max(2048)
  .describe(
    'Broker URL with credentials, e.g. amqp://user:pass@rabbit:5672/vhost (credentials are write-only).',
  );
const exchangeName = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');
const natsServer = z.url({ protocol: /^(nats|tls)$/, message: 'must be a nats:// or tls:// URL' }).max(2048);
const mqttUrl = z
  .url({ protocol: /^mqtts?$/, message: 'must be an mqtt:// or mqtts:// URL' })
  .max(2048)
  .refine((u) => {
    try {
      return ['', '/'].includes(new URL(u).pathname);
    } catch {
      return true; // not a URL: the check above reports it
    }
  }, 'an MQTT broker URL has no path')
  .describe('Broker URL, e.g. mqtts://user:pass@broker:8883 (MQTT 5; credentials are write-only).');
const streamName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only');

export const rabbitFields = {
  url: amqpUrl,
  exchange: exchangeName.describe('Exchange published to (declared durable if missing).'),
  exchange_type: z.enum(['topic', 'direct', 'fanout', 'headers']).optional().describe('Default topic.'),
  routing_key: templateSchema.optional().describe(`Routing key template; default ${DEFAULT_TEMPLATE}.`),
};
export const natsFields = {
  servers: z.array(natsServer).min(1).max(10),
  token: z.string().min(1).max(1024).optional().describe('Auth token (write-only).'),
  user: z.string().min(1).max(256).optional(),
  pass: z.string().min(1).max(1024).optional().describe('Password (write-only).'),
  stream: streamName.optional().describe(`JetStream stream (created if missing); default ${DEFAULT_STREAM}.`),
  subject: templateSchema.optional().describe(`Subject template; default ${DEFAULT_TEMPLATE}.`),
};

export const mqttFields = {
  url: mqttUrl,
  user: z.string().min(1).max(256).optional().describe('User name (instead of one in the URL).'),
  pass: z.string().min(1).max(1024).optional().describe('Password (write-only).'),
  topic: topicTemplateSchema.optional().describe(`Topic template; default ${DEFAULT_TOPIC}.`),
};

export const createSinkBody = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('rabbitmq'), ...common, ...rabbitFields }).strict(),
  z.object({ kind: z.literal('nats'), ...common, ...natsFields }).strict(),
  z.object({ kind: z.literal('mqtt'), ...common, ...mqttFields }).strict(),
]);
export type CreateSink = z.infer<typeof createSinkBody>;

/** A change: any field of any kind (those of another kind are refused by the service). */
export const patchSinkBody = z
  .object({
    events: common.events,
    enabled: common.enabled,
    inbound_only: common.inbound_only,
    include_groups: common.include_groups,
    url: z
      .union([amqpUrl, mqttUrl])
      .optional()
      .describe('The broker URL of a RabbitMQ (amqp://) or MQTT (mqtt://) sink.'),
    exchange: exchangeName.optional(),
    exchange_type: rabbitFields.exchange_type,
    routing_key: templateSchema.optional(),
    servers: natsFields.servers.optional(),
    token: natsFields.token,
    user: natsFields.user,
    pass: natsFields.pass,
    stream: natsFields.stream,
    subject: templateSchema.optional(),
    topic: topicTemplateSchema.optional(),
  })
  .strict();
export type PatchSink = z.infer<typeof patchSinkBody>;

/** RabbitMQ target as stored in `options`. */
export interface RabbitTarget {
  exchange: string;
  exchange_type: 'topic' | 'direct' | 'fanout' | 'headers';
  routing_key: string;
}
/** NATS target as stored in `options`. */
export interface NatsTarget {
  servers: string[];
  stream: string;
  subject: string;
}
/** MQTT target as stored in `options`. */
export interface MqttTarget {
  topic: string;
}
/** Write-only credentials (the `credentials` column, JSON). */
export interface SinkCredentials {
  username?: string;
  password?: string;
  token?: string;
}

/** Splits a broker URL into the stored URL (no user info) and its credentials. */
export function splitCredentials(raw: string): { url: string; credentials: SinkCredentials } {
  const u = new URL(raw);
  const credentials: SinkCredentials = {};
  if (u.username) credentials.username = decodeURIComponent(u.username);
  if (u.password) credentials.password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return { url: u.toString(), credentials };
}

/** Reads the credentials column. */
export function parseCredentials(ep: Pick<WebhookEndpoint, 'credentials'>): SinkCredentials {
  if (!ep.credentials) return {};
  try {
    return JSON.parse(ep.credentials) as SinkCredentials;
  } catch {
    return {};
  }
}

/** The AMQP URL to connect with (stored URL + credentials). Never logged or returned. */
export function amqpConnectUrl(ep: Pick<WebhookEndpoint, 'url' | 'credentials'>): string {
  const c = parseCredentials(ep);
  const u = new URL(ep.url);
  if (c.username) u.username = encodeURIComponent(c.username);
  if (c.password) u.password = encodeURIComponent(c.password);
  return u.toString();
}

/** The stored URL with the user name shown and the password as `***` (what the API returns). */
export function redactedUrl(ep: Pick<WebhookEndpoint, 'url' | 'credentials'>): string {
  const c = parseCredentials(ep);
  const u = new URL(ep.url);
  if (c.username) u.username = encodeURIComponent(c.username);
  if (c.password) u.password = '***';
  return u.toString();
}

/** Every secret string of a sink (to scrub from error messages before they are stored or logged). */
export function secretsOf(ep: Pick<WebhookEndpoint, 'credentials' | 'secret'>): string[] {
  const c = parseCredentials(ep);
  return [c.password, c.token, ep.secret ?? undefined].filter((s): s is string => !!s && s.length >= 3);
}

/** Replaces every secret in a text by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    out = out.split(s).join('***');
    const enc = encodeURIComponent(s);
    if (enc !== s) out = out.split(enc).join('***');
  }
  return out;
}

/** The endpoint columns of a sink from a validated create body (credentials separated out). */
export function sinkColumns(
  b: CreateSink,
): Pick<NewEndpoint, 'kind' | 'url' | 'options' | 'credentials'> & { hosts: string[] } {
  if (b.kind === 'rabbitmq') {
    const { url, credentials } = splitCredentials(b.url);
    const target: RabbitTarget = {
      exchange: b.exchange,
      exchange_type: b.exchange_type ?? 'topic',
      routing_key: b.routing_key ?? DEFAULT_TEMPLATE,
    };
    return {
      kind: 'rabbitmq',
      url,
      options: { ...target },
      credentials: Object.keys(credentials).length ? JSON.stringify(credentials) : null,
      hosts: [url],
    };
  }
  if (b.kind === 'mqtt') {
    const { url, credentials } = splitCredentials(b.url);
    if (b.user) credentials.username = b.user;
    if (b.pass) credentials.password = b.pass;
    const target: MqttTarget = { topic: b.topic ?? DEFAULT_TOPIC };
    const bare = url.replace(/\/$/, '');
    return {
      kind: 'mqtt',
      url: bare,
      options: { ...target },
      credentials: Object.keys(credentials).length ? JSON.stringify(credentials) : null,
      hosts: [bare],
    };
  }
  const servers: string[] = [];
  const credentials: SinkCredentials = {};
  for (const s of b.servers) {
    const split = splitCredentials(s);
    servers.push(split.url.replace(/\/$/, ''));
    // Credentials in a server URL count as user/pass (or a token when there is no password).
    if (split.credentials.username && !credentials.username) {
      if (split.credentials.password) {
        credentials.username = split.credentials.username;
        credentials.password = split.credentials.password;
      } else credentials.token = split.credentials.username;
    }
  }
  if (b.user) credentials.username = b.user;
  if (b.pass) credentials.password = b.pass;
  if (b.token) credentials.token = b.token;
  const target: NatsTarget = {
    servers,
    stream: b.stream ?? DEFAULT_STREAM,
    subject: b.subject ?? DEFAULT_TEMPLATE,
  };
  return {
    kind: 'nats',
    url: servers[0],
    options: { ...target },
    credentials: Object.keys(credentials).length ? JSON.stringify(credentials) : null,
    hosts: servers,
  };
}

/** The API view of a sink: no credentials (the URL redacted), no signing secret. */
export interface SinkView {
  id: string;
  kind: SinkKind;
  company_id: string;
  instance_id: string | null;
  events: string[];
  enabled: boolean;
  inbound_only: boolean;
  include_groups: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  rabbitmq: { url: string; exchange: string; exchange_type: string; routing_key: string } | null;
  nats: { servers: string[]; stream: string; subject: string; auth: 'none' | 'token' | 'user' } | null;
  mqtt: { url: string; topic: string } | null;
  created_at: string;
  updated_at: string;
}

export function sinkView(e: WebhookEndpoint): SinkView {
  const o = e.options as Partial<RabbitTarget & NatsTarget & MqttTarget>;
  const c = parseCredentials(e);
  return {
    id: e.id,
    kind: e.kind as SinkView['kind'],
    company_id: e.company_id,
    instance_id: e.instance_id,
    events: e.events,
    enabled: e.enabled,
    inbound_only: e.inbound_only,
    include_groups: e.include_groups,
    disabled_reason: e.disabled_reason,
    failing_since: e.failing_since,
    rabbitmq:
      e.kind === 'rabbitmq'
        ? {
            url: redactedUrl(e),
            exchange: o.exchange ?? '',
            exchange_type: o.exchange_type ?? 'topic',
            routing_key: o.routing_key ?? DEFAULT_TEMPLATE,
          }
        : null,
    nats:
      e.kind === 'nats'
        ? {
            servers: o.servers ?? [e.url],
            stream: o.stream ?? DEFAULT_STREAM,
            subject: o.subject ?? DEFAULT_TEMPLATE,
            auth: c.token ? 'token' : c.username ? 'user' : 'none',
          }
        : null,
    mqtt: e.kind === 'mqtt' ? { url: redactedUrl(e), topic: o.topic ?? DEFAULT_TOPIC } : null,
    created_at: e.created_at,
    updated_at: e.updated_at,
  };
}

/** The create body equivalent to a stored sink (credentials left out), to re-validate a change against. */
export function storedAsBody(e: WebhookEndpoint): Record<string, unknown> {
  const o = e.options as Partial<RabbitTarget & NatsTarget & MqttTarget>;
  const base = {
    kind: e.kind,
    events: e.events,
    enabled: e.enabled,
    inbound_only: e.inbound_only,
    include_groups: e.include_groups,
  };
  if (e.kind === 'mqtt') return { ...base, url: e.url, topic: o.topic };
  return e.kind === 'rabbitmq'
    ? {
        ...base,
        url: e.url,
        exchange: o.exchange,
        exchange_type: o.exchange_type,
        routing_key: o.routing_key,
      }
    : { ...base, servers: o.servers ?? [e.url], stream: o.stream, subject: o.subject };
}
