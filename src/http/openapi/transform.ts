// OpenAPI document shaping: named component schemas and a stable camelCase operationId on every operation.
import type { SwaggerTransform } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { EVENT_TYPES, eventTypeName } from '../../domain/events.js';

/** Path prefixes that carry no meaning in an operation name (`/api/v1/instances` → `instances`). */
const PREFIXES = [/^\/api\/v1(?=\/|$)/, /^\/api(?=\/|$)/];

const pascal = (word: string): string =>
  word
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');

/**
 * The operationId a route gets when its schema names none: the HTTP method followed by the path's words, path
 * parameters as `By<Name>` — `POST /api/v1/instances/:id/start` → `postInstancesByIdStart`. Deterministic, so
 * generated clients keep their method names across releases; unique because (method, path) is.
 */
export function deriveOperationId(method: string, url: string): string {
  let path = url;
  for (const p of PREFIXES) path = path.replace(p, '');
  const words = path
    .split('/')
    .filter(Boolean)
    .map((seg) => (seg.startsWith(':') ? `By${pascal(seg.slice(1))}` : pascal(seg)));
  return method.toLowerCase() + (words.join('') || 'Root');
}

/** The per-route transform: zod → JSON Schema, then an operationId where the route has none. */
export const openApiTransform: SwaggerTransform = (arg) => {
  const out = jsonSchemaTransform(arg as Parameters<typeof jsonSchemaTransform>[0]);
  const method = Array.isArray(arg.route.method) ? arg.route.method[0] : arg.route.method;
  const schema = out.schema as Record<string, unknown>;
  if (schema && !schema.operationId) schema.operationId = deriveOperationId(String(method), arg.url);
  // A route with no response schema (a text body such as Prometheus metrics) still documents its success response.
  if (schema && !schema.response)
    schema.response = { 200: { description: 'OK', content: { '*/*': { schema: {} } } } };
  const responses = schema?.response as Record<string, Record<string, unknown>> | undefined;
  for (const [status, body] of Object.entries(responses ?? {})) {
    if (body && typeof body === 'object' && !body.description)
      body.description = STATUS_TEXT[status] ?? `HTTP ${status}`;
  }
  return out;
};

const STATUS_TEXT: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No content',
  400: 'Bad request: the input failed validation (error body names the field)',
  401: 'Missing or unknown credential',
  403: 'The credential lacks a scope or right for this operation',
  404: 'Not found (also for ids that belong to another company)',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  415: 'Unsupported content type',
  429: 'Rate limited or over a quota (see Retry-After)',
  500: 'Internal error',
  502: 'The messenger or an upstream service failed',
  503: 'Unavailable (database outage, draining, or an empty pool); retry after Retry-After',
};

/** Event types delivered to webhooks and the WebSocket streams (the log's `type` column): one per payload schema. */
export const DELIVERED_EVENT_TYPES = EVENT_TYPES;

const SIGNATURE_HEADERS = [
  ['webhook-id', 'The event id: deduplicate on it (deliveries are at least once).'],
  ['webhook-timestamp', 'Unix seconds at signing; reject old timestamps to stop replays.'],
  ['webhook-signature', 'Standard Webhooks signature: `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`.'],
] as const;

/**
 * The top-level `webhooks` object: one entry per event type, each the common `Event` envelope with its `type` and
 * its `data` schema (`<Type>EventData`, a component generated from src/domain/events.ts).
 */
function webhooksObject(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const type of DELIVERED_EVENT_TYPES) {
    out[type] = {
      post: {
        operationId: `webhook${eventTypeName(type)}`,
        summary: `The "${type}" event, as POSTed to webhook endpoints and sent on /api/v1/events`,
        parameters: SIGNATURE_HEADERS.map(([name, description]) => ({
          name,
          in: 'header',
          required: true,
          description,
          schema: { type: 'string' },
        })),
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                allOf: [
                  { $ref: '#/components/schemas/Event' },
                  {
                    type: 'object',
                    properties: {
                      type: { const: type },
                      data: { $ref: `#/components/schemas/${eventTypeName(type)}EventData` },
                    },
                    required: ['type', 'data'],
                  },
                ],
              },
            },
          },
        },
        responses: {
          '200': { description: 'Any 2xx marks the delivery done' },
          '410': { description: 'Gone: the endpoint is disabled' },
          '429': { description: 'Retried after Retry-After' },
        },
      },
    };
  }
  return out;
}

/**
 * The whole-document transform: schemas named with `.meta({ id })` become `components.schemas` entries, and the event
 * payloads are described in the top-level `webhooks` object (OpenAPI 3.1).
 */
export const openApiTransformObject: typeof jsonSchemaTransformObject = (arg) => {
  const doc = jsonSchemaTransformObject(arg) as { components?: { schemas?: Record<string, unknown> } };
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {}))
    if (name.endsWith('EventData')) openToNewFields(schema);
  return { ...doc, webhooks: webhooksObject() } as ReturnType<typeof jsonSchemaTransformObject>;
};

/**
 * Event payloads are checked strictly inside the gateway (tests catch drift), but the published contract lets a
 * consumer's validator accept fields added later: a new field in an event is not a breaking change.
 */
function openToNewFields(schema: unknown): void {
  if (Array.isArray(schema)) for (const s of schema) openToNewFields(s);
  else if (schema && typeof schema === 'object') {
    const o = schema as Record<string, unknown>;
    if (o.additionalProperties === false) delete o.additionalProperties;
    for (const v of Object.values(o)) openToNewFields(v);
  }
}
