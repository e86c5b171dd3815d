// Event sinks API (/api/v1/sinks): RabbitMQ and NATS JetStream targets, delivery log, replay and secret rotation.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createSinkBody, patchSinkBody, sinkView } from '../../delivery/sinks/spec.js';
import { SbError } from '../../domain/errors.js';
import { principal } from '../auth.js';
import { companyIdSchema, errorBody, stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';
import { registerDeliveryLogRoutes } from './delivery-log.js';

const sinkSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['rabbitmq', 'nats']),
    company_id: z.string(),
    instance_id: z.string().nullable(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    inbound_only: z.boolean(),
    include_groups: z.boolean(),
    disabled_reason: z.string().nullable(),
    failing_since: z.string().nullable(),
    rabbitmq: z
      .object({ url: z.string(), exchange: z.string(), exchange_type: z.string(), routing_key: z.string() })
      .nullable()
      .describe('RabbitMQ target; the URL shows the user name and `***` for the password.'),
    nats: z
      .object({
        servers: z.array(z.string()),
        stream: z.string(),
        subject: z.string(),
        auth: z.enum(['none', 'token', 'user']),
      })
      .nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'EventSink' });

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
    response_excerpt: z.string().nullable().describe('The broker confirm, e.g. `stream SWITCHBOARD seq 12`.'),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'EventSinkDelivery' });

const sinkParam = z.object({ id: z.uuid({ message: 'must be a UUID' }) });
const tags = ['sinks'];

export const sinkRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'delivery'>> = async (
  app,
  { delivery },
) => {
  const svc = () => {
    if (!delivery) throw new SbError('SB_ERR_UNAVAILABLE', 'event delivery is not running');
    return delivery.sinks;
  };

  app.post(
    '/api/v1/sinks',
    {
      schema: {
        tags,
        summary: 'Add an event sink (RabbitMQ or NATS JetStream); its signing secret is returned once',
        body: createSinkBody,
        response: { 201: z.object({ sink: sinkSchema, secret: z.string() }), 403: errorBody, ...stdErrors },
      },
    },
    async (req, reply) => {
      const { sink, secret } = await svc().create(principal(req), req.body);
      reply.status(201);
      return { sink: sinkView(sink), secret };
    },
  );

  app.get(
    '/api/v1/sinks',
    {
      schema: {
        tags,
        summary: 'Event sinks of a company (company-wide and per instance) or of one instance',
        querystring: z
          .object({ company_id: companyIdSchema.optional(), instance_id: z.uuid().optional() })
          .strict(),
        response: { 200: z.object({ sinks: z.array(sinkSchema) }), ...stdErrors },
      },
    },
    async (req) => ({ sinks: (await svc().list(principal(req), req.query)).map(sinkView) }),
  );

  app.get(
    '/api/v1/sinks/:id',
    {
      schema: {
        tags,
        summary: 'One event sink',
        params: sinkParam,
        response: { 200: z.object({ sink: sinkSchema }), ...stdErrors },
      },
    },
    async (req) => ({ sink: sinkView(await svc().get(principal(req), req.params.id)) }),
  );

  app.patch(
    '/api/v1/sinks/:id',
    {
      schema: {
        tags,
        summary: 'Change a sink (enabling clears a disabled state; new credentials replace the old ones)',
        params: sinkParam,
        body: patchSinkBody,
        response: { 200: z.object({ sink: sinkSchema }), ...stdErrors },
      },
    },
    async (req) => ({ sink: sinkView(await svc().update(principal(req), req.params.id, req.body)) }),
  );

  app.delete(
    '/api/v1/sinks/:id',
    {
      schema: {
        tags,
        summary: 'Delete a sink and its delivery log',
        params: sinkParam,
        response: { 200: z.object({ deleted: z.literal(true) }), ...stdErrors },
      },
    },
    async (req) => {
      await svc().remove(principal(req), req.params.id);
      return { deleted: true as const };
    },
  );

  app.post(
    '/api/v1/sinks/:id/rotate-secret',
    {
      schema: {
        tags,
        summary: 'New signing secret (shown once); the old one is also signed with during the overlap',
        params: sinkParam,
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
        response: { 200: z.object({ sink: sinkSchema, secret: z.string() }), ...stdErrors },
      },
    },
    async (req) => {
      const overlap = req.body?.overlap_seconds ?? 86_400;
      const { sink, secret } = await svc().rotateSecret(principal(req), req.params.id, overlap);
      return { sink: sinkView(sink), secret };
    },
  );

  registerDeliveryLogRoutes(app, {
    base: '/api/v1/sinks',
    tags,
    deliverySchema,
    texts: {
      log: 'Delivery log of a sink, newest first (status, attempts, last error, broker confirm)',
      replayOne: 'Publish one event again (fresh retry schedule)',
      replayFailed: 'Publish again every failed (dead-lettered) delivery created since a time',
    },
    svc,
  });
};
