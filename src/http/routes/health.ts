// Liveness (`/health`) and readiness (`/ready`: database reachable and migrated).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Gateway } from '../../gateway.js';

export const healthRoutes =
  (gw: Gateway): FastifyPluginAsyncZod =>
  async (app) => {
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
        sessions: gw.supervisor.size,
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
            200: z.object({ status: z.literal('ready'), database: z.string() }),
            503: z.object({ status: z.literal('not_ready'), reason: z.string() }),
          },
        },
      },
      async (_req, reply) => {
        if (gw.shuttingDown)
          return reply.status(503).send({ status: 'not_ready' as const, reason: 'shutting down' });
        try {
          await gw.store.ping();
          const pending = await gw.store.pendingMigrations();
          if (pending.length) {
            return reply
              .status(503)
              .send({ status: 'not_ready' as const, reason: `migrations pending: ${pending.join(', ')}` });
          }
          return { status: 'ready' as const, database: gw.store.kind };
        } catch {
          return reply.status(503).send({ status: 'not_ready' as const, reason: 'database unreachable' });
        }
      },
    );
  };
