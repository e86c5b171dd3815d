// Event sinks API (/api/v1/sinks): RabbitMQ, NATS JetStream and MQTT targets, delivery log, replay and secret rotation.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createSinkBody, patchSinkBody, sinkView } from '../../delivery/sinks/spec.js';
import { SINK_KINDS } from '../../domain/endpoint-kinds.js';
import { SbError } from '../../domain/errors.js';
import { principal } from '../auth.js';
import { companyIdSchema, errorBody, stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';
import { deliverySchema, registerTargetRoutes } from './delivery-log.js';

const sinkSchema = z
  .object({
    id: z.string(),
    kind: z.enum(SINK_KINDS),
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
    mqtt: z
      .object({ url: z.string(), topic: z.string() })
      .nullable()
      .describe('MQTT target; the URL shows the user name and `***` for the password.'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'EventSink' });

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
        summary: 'Add an event sink (RabbitMQ, NATS JetStream or MQTT); its signing secret is returned once',
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

  registerTargetRoutes(app, {
    base: '/api/v1/sinks',
    tags,
    noun: 'sink',
    schema: sinkSchema,
    patchBody: patchSinkBody,
    deliverySchema: deliverySchema(
      'EventSinkDelivery',
      'The broker confirm, e.g. `stream SWITCHBOARD seq 12`.',
    ),
    view: sinkView,
    texts: {
      get: 'One event sink',
      patch: 'Change a sink (enabling clears a disabled state; new credentials replace the old ones)',
      remove: 'Delete a sink and its delivery log',
      rotate: 'New signing secret (shown once); the old one is also signed with during the overlap',
      log: 'Delivery log of a sink, newest first (status, attempts, last error, broker confirm)',
      replayOne: 'Publish one event again (fresh retry schedule)',
      replayFailed: 'Publish again every failed (dead-lettered) delivery created since a time',
    },
    svc,
    get: (s, p, id) => s.get(p, id),
    rotate: async (s, p, id, overlap) => {
      const r = await s.rotateSecret(p, id, overlap);
      return { target: r.sink, secret: r.secret };
    },
  });
};
