// `GET /metrics` (Prometheus text, admin key) and the HTTP duration histogram for every route.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requireAdmin } from '../../core/access.js';
import { SbError } from '../../domain/errors.js';
import type { Gateway } from '../../gateway.js';
import { principal } from '../auth.js';

/** The metrics route; skip-override makes its onResponse hook apply to the whole app, not only this plugin. */
export const metricsRoutes = (gw: Gateway): FastifyPluginAsyncZod => {
  const plugin: FastifyPluginAsyncZod = async (app) => {
    const metrics = gw.delivery?.metrics;
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
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
};
