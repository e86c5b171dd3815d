// Webhook endpoints API: instance and company endpoints, secret rotation, delivery log and replay.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { endpointView } from '../../delivery/webhooks/service.js';
import { SbError } from '../../domain/errors.js';
import { eventTypeFilter } from '../../domain/events.js';
import { principal } from '../auth.js';
import { companyIdSchema, errorBody, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';
import { deliverySchema, registerTargetRoutes } from './delivery-log.js';

const urlField = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048);

const webhookBody = z
  .object({
    url: urlField,
    events: z
      .array(eventTypeFilter)
      .max(50)
      .optional()
      .describe('Event types to send; empty or omitted = all.'),
    enabled: z.boolean().optional(),
  })
  .strict();

const patchBody = z
  .object({
    url: urlField.optional(),
    events: z.array(eventTypeFilter).max(50).optional(),
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

  registerTargetRoutes(app, {
    base: '/api/v1/webhooks',
    tags,
    noun: 'webhook',
    schema: endpointSchema,
    patchBody,
    deliverySchema: deliverySchema('WebhookDelivery'),
    view: endpointView,
    texts: {
      get: 'One webhook endpoint',
      patch: 'Change url, events or enabled (enabling clears a disabled state)',
      remove: 'Delete an endpoint and its delivery log',
      rotate: 'New signing secret (shown once); the old one is also signed with during the overlap',
      log: 'Delivery log of an endpoint, newest first (status, attempts, last code, response excerpt)',
      replayOne: 'Deliver one event again (fresh retry schedule)',
      replayFailed: 'Deliver again every failed (dead-lettered) delivery created since a time',
    },
    rotateErrors: { 409: errorBody },
    svc,
    get: (s, p, id) => s.endpoint(p, id),
    rotate: async (s, p, id, overlap) => {
      const r = await s.rotateSecret(p, id, overlap);
      return { target: r.endpoint, secret: r.secret };
    },
  });
};
