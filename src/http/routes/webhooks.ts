// Webhook endpoints API: instance and company endpoints, secret rotation, delivery log and replay.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { endpointView } from '../../delivery/webhooks/service.js';
import { SbError } from '../../domain/errors.js';
import { principal } from '../auth.js';
import { companyIdSchema, errorBody, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';
import { registerDeliveryLogRoutes } from './delivery-log.js';

const eventName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9_.*]+$/, 'an event type such as message');
const urlField = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048);

const webhookBody = z
  .object({
    url: urlField,
    events: z.array(eventName).max(50).optional().describe('Event types to send; empty or omitted = all.'),
    enabled: z.boolean().optional(),
  })
  .strict();

const patchBody = z
  .object({
    url: urlField.optional(),
    events: z.array(eventName).max(50).optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

const endpointSchema = z
  .object({
    id: z.string(),
    company_id: z.string(),
    instance_id: z.string().nullable(),
    kind: z.enum(['webhook', 'agent']),
    url: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    failing_since: z.string().nullable(),
    previous_secret_expires_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'WebhookEndpoint' });

const deliverySchema = z
  .object({
    id: z.number(),
    endpoint_id: z.string(),
    event_id: z.number(),
    event_type: z.string().nullable().optional(),
    chat_key: z.string().nullable(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number(),
    next_attempt_at: z.string(),
    last_attempt_at: z.string().nullable(),
    last_status_code: z.number().nullable(),
    last_error: z.string().nullable(),
    response_excerpt: z.string().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'WebhookDelivery' });

const endpointParam = z.object({ id: z.uuid({ message: 'must be a UUID' }) });
const companyParam = z.object({ id: companyIdSchema });
const tags = ['webhooks'];

export const webhookRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'delivery' | 'instances'>> = async (
  app,
  { delivery, instances },
) => {
  const svc = () => {
    if (!delivery) throw new SbError('SB_ERR_UNAVAILABLE', 'webhook delivery is not running');
    return delivery.webhooks;
  };

  app.get(
    '/api/v1/instances/:id/webhooks',
    {
      schema: {
        tags,
        summary: "The instance's webhook and agent endpoints",
        params: uuidParam,
        response: { 200: z.object({ webhooks: z.array(endpointSchema) }), ...stdErrors },
      },
    },
    async (req) => {
      const inst = await instances.get(principal(req), req.params.id);
      return { webhooks: (await svc().listForInstance(inst)).map(endpointView) };
    },
  );

  app.put(
    '/api/v1/instances/:id/webhooks',
    {
      schema: {
        tags,
        summary: "Set the instance's webhook; a new endpoint's signing secret is returned once",
        params: uuidParam,
        body: webhookBody,
        response: {
          200: z.object({ webhook: endpointSchema, secret: z.string().nullable() }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const inst = await instances.get(principal(req), req.params.id);
      const { endpoint, secret } = await svc().putInstanceWebhook(inst, req.body);
      return { webhook: endpointView(endpoint), secret };
    },
  );

  app.delete(
    '/api/v1/instances/:id/webhooks',
    {
      schema: {
        tags,
        summary: "Remove the instance's webhook (its pending deliveries are dropped)",
        params: uuidParam,
        response: { 200: z.object({ deleted: z.boolean() }), ...stdErrors },
      },
    },
    async (req) => {
      const inst = await instances.get(principal(req), req.params.id);
      return { deleted: await svc().deleteInstanceWebhook(inst) };
    },
  );

  app.get(
    '/api/v1/companies/:id/webhooks',
    {
      schema: {
        tags,
        summary: 'Company-wide webhook endpoints (events of every instance of the company)',
        params: companyParam,
        response: { 200: z.object({ webhooks: z.array(endpointSchema) }), 403: errorBody, ...stdErrors },
      },
    },
    async (req) => ({
      webhooks: (await svc().listForCompany(principal(req), req.params.id)).map(endpointView),
    }),
  );

  app.post(
    '/api/v1/companies/:id/webhooks',
    {
      schema: {
        tags,
        summary: 'Add a company-wide webhook; its signing secret is returned once',
        params: companyParam,
        body: webhookBody,
        response: {
          201: z.object({ webhook: endpointSchema, secret: z.string() }),
          403: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req, reply) => {
      const { endpoint, secret } = await svc().createCompanyWebhook(principal(req), req.params.id, req.body);
      reply.status(201);
      return { webhook: endpointView(endpoint), secret };
    },
  );

  app.get(
    '/api/v1/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'One webhook endpoint',
        params: endpointParam,
        response: { 200: z.object({ webhook: endpointSchema }), ...stdErrors },
      },
    },
    async (req) => ({ webhook: endpointView(await svc().endpoint(principal(req), req.params.id)) }),
  );

  app.patch(
    '/api/v1/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Change url, events or enabled (enabling clears a disabled state)',
        params: endpointParam,
        body: patchBody,
        response: { 200: z.object({ webhook: endpointSchema }), ...stdErrors },
      },
    },
    async (req) => ({ webhook: endpointView(await svc().update(principal(req), req.params.id, req.body)) }),
  );

  app.delete(
    '/api/v1/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Delete an endpoint and its delivery log',
        params: endpointParam,
        response: { 200: z.object({ deleted: z.literal(true) }), ...stdErrors },
      },
    },
    async (req) => {
      await svc().remove(principal(req), req.params.id);
      return { deleted: true as const };
    },
  );

  app.post(
    '/api/v1/webhooks/:id/rotate-secret',
    {
      schema: {
        tags,
        summary: 'New signing secret (shown once); the old one is also signed with during the overlap',
        params: endpointParam,
        body: z
          .object({
            overlap_seconds: z
              .number()
              .int()
              .min(0)
              .max(7 * 86_400)
              .default(86_400),
          })
          .strict()
          .nullish(),
        response: {
          200: z.object({ webhook: endpointSchema, secret: z.string() }),
          409: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const overlap = req.body?.overlap_seconds ?? 86_400;
      const { endpoint, secret } = await svc().rotateSecret(principal(req), req.params.id, overlap);
      return { webhook: endpointView(endpoint), secret };
    },
  );

  registerDeliveryLogRoutes(app, {
    base: '/api/v1/webhooks',
    tags,
    deliverySchema,
    texts: {
      log: 'Delivery log of an endpoint, newest first (status, attempts, last code, response excerpt)',
      replayOne: 'Deliver one event again (fresh retry schedule)',
      replayFailed: 'Deliver again every failed (dead-lettered) delivery created since a time',
    },
    svc,
  });
};
