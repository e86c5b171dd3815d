// Cluster view (admin): this replica's id and live sessions, the live replicas and leases.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireAdmin } from '../../core/access.js';
import { principal } from '../auth.js';
import { stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';

const connectionLog = z.array(
  z.object({ instance_id: z.string(), event: z.enum(['connect', 'disconnect']), at: z.number() }),
);

const clusterView = z.object({
  enabled: z.boolean(),
  replica_id: z.string().nullable(),
  transport: z.object({ events: z.string(), commands: z.string() }).nullable(),
  sessions: z.array(z.string()).describe('Instance ids whose session runs on this replica now.'),
  replicas: z.array(
    z.object({ id: z.string(), started_at: z.string(), heartbeat_at: z.string(), sessions: z.number() }),
  ),
  leases: z.array(
    z.object({ instance_id: z.string(), owner: z.string(), epoch: z.number(), expires_at: z.string() }),
  ),
  simulator_connections: connectionLog
    .optional()
    .describe(
      'With ?connections=true: the simulator connect/disconnect log of this process (ms timestamps).',
    ),
});

/** The simulator network's connection log, if the simulator provider is enabled here (duck-typed). */
function simulatorLog(providers: HttpServices['providers']): z.infer<typeof connectionLog> {
  const sim = providers.get('simulator') as { network?: { log?: z.infer<typeof connectionLog> } } | undefined;
  return [...(sim?.network?.log ?? [])];
}

export const clusterRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'cluster' | 'providers' | 'supervisor'>
> = async (app, { cluster, providers, supervisor }) => {
  app.get(
    '/api/v1/cluster',
    {
      schema: {
        tags: ['cluster'],
        summary: 'Cluster view: this replica, its sessions, live replicas and leases (admin key)',
        querystring: z
          .object({ connections: z.enum(['true', 'false']).optional() })
          .strict()
          .optional(),
        response: { 200: clusterView, ...stdErrors },
      },
    },
    async (req) => {
      requireAdmin(principal(req));
      const withLog = req.query?.connections === 'true';
      const extra = withLog ? { simulator_connections: simulatorLog(providers) } : {};
      if (!cluster) {
        return {
          enabled: false,
          replica_id: null,
          transport: null,
          sessions: supervisor.liveInstanceIds(),
          replicas: [],
          leases: [],
          ...extra,
        };
      }
      return { enabled: true, ...(await cluster.view()), ...extra };
    },
  );
};
