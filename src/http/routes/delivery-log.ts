// The delivery log and replay routes an outbox target has (webhook endpoints and event sinks share them).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Principal } from '../../domain/model.js';
import { principal } from '../auth.js';
import { isoDateTimeField, limitQuery, stdErrors } from '../schemas.js';

/** What the routes call: the target's service, scoped by the caller (foreign ids are its 404s). */
export interface DeliveryLogService {
  deliveries(
    p: Principal,
    id: string,
    f: { status?: 'pending' | 'delivered' | 'failed'; limit: number; cursor?: string },
  ): Promise<{ items: unknown[]; next_cursor: string | null }>;
  replayOne(p: Principal, id: string, deliveryId: number): Promise<void>;
  replayFailed(p: Principal, id: string, since: Date): Promise<number>;
}

const targetParam = z.object({ id: z.uuid({ message: 'must be a UUID' }) });
const deliveryParam = targetParam.extend({ deliveryId: z.coerce.number().int().min(1) });

/**
 * Registers `GET {base}/:id/deliveries`, `POST {base}/:id/deliveries/:deliveryId/replay` and `POST {base}/:id/replay`.
 * `texts` word the summaries for the target (a webhook "delivers", a sink "publishes").
 */
export function registerDeliveryLogRoutes(
  app: FastifyInstance,
  o: {
    base: string;
    tags: string[];
    deliverySchema: z.ZodType;
    texts: { log: string; replayOne: string; replayFailed: string };
    svc: () => DeliveryLogService;
  },
): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    `${o.base}/:id/deliveries`,
    {
      schema: {
        tags: o.tags,
        summary: o.texts.log,
        params: targetParam,
        querystring: z
          .object({
            status: z.enum(['pending', 'delivered', 'failed']).optional(),
            limit: limitQuery,
            // A delivery id: at most 15 digits, so it stays an exact JavaScript number.
            cursor: z
              .string()
              .regex(/^\d{1,15}$/, 'invalid cursor')
              .optional(),
          })
          .strict(),
        response: {
          200: z.object({ deliveries: z.array(o.deliverySchema), next_cursor: z.string().nullable() }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const page = await o.svc().deliveries(principal(req), req.params.id, req.query);
      return { deliveries: page.items, next_cursor: page.next_cursor };
    },
  );

  r.post(
    `${o.base}/:id/deliveries/:deliveryId/replay`,
    {
      schema: {
        tags: o.tags,
        summary: o.texts.replayOne,
        params: deliveryParam,
        response: { 200: z.object({ replayed: z.number() }), ...stdErrors },
      },
    },
    async (req) => {
      await o.svc().replayOne(principal(req), req.params.id, req.params.deliveryId);
      return { replayed: 1 };
    },
  );

  r.post(
    `${o.base}/:id/replay`,
    {
      schema: {
        tags: o.tags,
        summary: o.texts.replayFailed,
        params: targetParam,
        body: z.object({ since: isoDateTimeField }).strict(),
        response: { 200: z.object({ replayed: z.number() }), ...stdErrors },
      },
    },
    async (req) => ({
      replayed: await o.svc().replayFailed(principal(req), req.params.id, new Date(req.body.since)),
    }),
  );
}
