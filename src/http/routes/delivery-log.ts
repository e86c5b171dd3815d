// The routes every outbox target has (webhook endpoints and event sinks share them): one target by id (read, change,
// delete, rotate its signing secret), its delivery log and replay.
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

/** What the per-target routes call on the target's service, scoped by the caller (foreign ids are its 404s). */
export interface OutboxTargetService<T> extends DeliveryLogService {
  update(p: Principal, id: string, patch: never): Promise<T>;
  remove(p: Principal, id: string): Promise<void>;
}

/** A delivery of the log, as both targets show it; `responseExcerpt` says what the excerpt holds for this target. */
export function deliverySchema(id: string, responseExcerpt?: string) {
  const excerpt = z.string().nullable();
  return z
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
      response_excerpt: responseExcerpt ? excerpt.describe(responseExcerpt) : excerpt,
      delivered_at: z.string().nullable(),
      created_at: z.string(),
    })
    .meta({ id });
}

const targetParam = z.object({ id: z.uuid({ message: 'must be a UUID' }) });
const rotateBody = z
  .object({
    overlap_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .default(86_400),
  })
  .strict()
  .nullish();

/**
 * Registers `GET`, `PATCH` and `DELETE {base}/:id`, `POST {base}/:id/rotate-secret` and the delivery log routes; each
 * answers the target under the key `noun` (`{ webhook: … }`, `{ sink: … }`), shown through `view`. `get` and `rotate`
 * adapt the service's own names for reading a target and rotating its secret.
 */
export function registerTargetRoutes<T, S extends OutboxTargetService<T>>(
  app: FastifyInstance,
  o: {
    base: string;
    tags: string[];
    noun: string;
    schema: z.ZodType;
    patchBody: z.ZodType;
    deliverySchema: z.ZodType;
    view: (t: T) => unknown;
    texts: {
      get: string;
      patch: string;
      remove: string;
      rotate: string;
      log: string;
      replayOne: string;
      replayFailed: string;
    };
    /** Error answers of the rotation beyond the standard ones (documented in the contract). */
    rotateErrors?: Record<number, z.ZodType>;
    svc: () => S;
    get: (s: S, p: Principal, id: string) => Promise<T>;
    rotate: (
      s: S,
      p: Principal,
      id: string,
      overlapSeconds: number,
    ) => Promise<{ target: T; secret: string }>;
  },
): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const one = z.object({ [o.noun]: o.schema });
  r.get(
    `${o.base}/:id`,
    {
      schema: {
        tags: o.tags,
        summary: o.texts.get,
        params: targetParam,
        response: { 200: one, ...stdErrors },
      },
    },
    async (req) => ({ [o.noun]: o.view(await o.get(o.svc(), principal(req), req.params.id)) }),
  );
  r.patch(
    `${o.base}/:id`,
    {
      schema: {
        tags: o.tags,
        summary: o.texts.patch,
        params: targetParam,
        body: o.patchBody,
        response: { 200: one, ...stdErrors },
      },
    },
    async (req) => ({
      [o.noun]: o.view(await o.svc().update(principal(req), req.params.id, req.body as never)),
    }),
  );
  r.delete(
    `${o.base}/:id`,
    {
      schema: {
        tags: o.tags,
        summary: o.texts.remove,
        params: targetParam,
        response: { 200: z.object({ deleted: z.literal(true) }), ...stdErrors },
      },
    },
    async (req) => {
      await o.svc().remove(principal(req), req.params.id);
      return { deleted: true as const };
    },
  );
  r.post(
    `${o.base}/:id/rotate-secret`,
    {
      schema: {
        tags: o.tags,
        summary: o.texts.rotate,
        params: targetParam,
        body: rotateBody,
        response: {
          200: z.object({ [o.noun]: o.schema, secret: z.string() }),
          ...o.rotateErrors,
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const overlap = req.body?.overlap_seconds ?? 86_400;
      const { target, secret } = await o.rotate(o.svc(), principal(req), req.params.id, overlap);
      return { [o.noun]: o.view(target), secret };
    },
  );
  registerDeliveryLogRoutes(app, o);
}
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
