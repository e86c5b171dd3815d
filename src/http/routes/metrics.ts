// `GET /metrics` (Prometheus text, admin key) and the HTTP duration histogram for every route.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requireAdmin } from '../../core/access.js';
import { SbError } from '../../domain/errors.js';
import { principal } from '../auth.js';
import type { HttpServices } from '../services.js';

/** The metrics route; skip-override makes its onResponse hook apply to the whole app, not only this plugin. */
export const metricsRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'delivery'>> = async (
  app,
  { delivery },
) => {
  const metrics = delivery?.metrics;
  if (metrics) {
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url;
      if (!route) return;
      metrics.httpDuration.observe(
        { method: req.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
  }

  app.get(
    '/metrics',
    { schema: { tags: ['health'], summary: 'Prometheus metrics (admin key)', hide: false } },
    async (req, reply) => {
      requireAdmin(principal(req));
      if (!metrics) throw new SbError('SB_ERR_UNAVAILABLE', 'metrics are not enabled');
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
};
(metricsRoutes as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
