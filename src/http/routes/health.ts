// Liveness (`/health`, never touches the database) and readiness (`/ready`: database reachable and migrated).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HttpServices } from '../services.js';

/** How long `/ready` waits for the database before reporting it unreachable, in ms. */
export const READY_DB_TIMEOUT_MS = 2_000;

/** Rejects when `p` takes longer than `ms` (the timer never keeps the process alive). */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const healthRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'isShuttingDown' | 'store' | 'supervisor'>
> = async (app, { isShuttingDown, store, supervisor }) => {
  app.get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process is up',
        response: {
          200: z.object({ status: z.literal('ok'), uptime_s: z.number(), sessions: z.number() }),
        },
      },
    },
    async () => ({
      status: 'ok' as const,
      uptime_s: Math.round(process.uptime()),
      sessions: supervisor.size,
    }),
  );

  app.get(
    '/ready',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Readiness: database reachable and migrations applied (503 otherwise)',
        response: {
          200: z.object({
            status: z.literal('ready'),
            database: z.string(),
            spooled: z.number().describe('Inbound messages still waiting in the disk spool (being replayed)'),
          }),
          503: z.object({
            status: z.literal('not_ready'),
            reason: z.string(),
            spooled: z.number().describe('Inbound messages waiting in the disk spool for the database'),
          }),
        },
      },
    },
    async (req, reply) => {
      const spooled = supervisor.inbound.pending;
      const notReady = (reason: string) =>
        reply.status(503).send({ status: 'not_ready' as const, reason, spooled });
      if (isShuttingDown()) return notReady('shutting down');
      let pending: string[];
      try {
        await within(store.ping(), READY_DB_TIMEOUT_MS);
        pending = await within(store.pendingMigrations(), READY_DB_TIMEOUT_MS);
      } catch (err) {
        req.log.warn({ err: String(err) }, 'readiness: database unreachable');
        return notReady('database unreachable');
      }
      if (pending.length) return notReady(`migrations pending: ${pending.join(', ')}`);
      return { status: 'ready' as const, database: store.kind, spooled };
    },
  );
};
