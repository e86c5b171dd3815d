// WebSocket `/api/v1/events`: live events filtered by company, instance and type, resumable with `since`.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { StreamFilter } from '../../delivery/event-stream.js';
import { notFound } from '../../domain/errors.js';
import { principal } from '../auth.js';
import { streamEventsToSocket, trackSocket } from '../event-socket.js';
import { companyIdSchema, eventTypesQuery } from '../schemas.js';
import type { HttpServices } from '../services.js';

export { WS_CLOSE_SLOW } from '../event-socket.js';

const wsQuery = z
  .object({
    api_key: z.string().optional(),
    company_id: companyIdSchema.optional(),
    instance_id: z.uuid().optional(),
    types: eventTypesQuery,
    since: z.coerce.number().int().min(0).optional(),
  })
  .strict();

export const eventsWsRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'bus' | 'instances' | 'store' | 'streams'>
> = async (
  app,
  // streams: open streams per company (connection cap, shared with /api/whatsapp/events) and per key (revocation).
  { bus, instances, store, streams },
) => {
  app.get(
    '/api/v1/events',
    {
      websocket: true,
      config: { queryKey: true },
      schema: {
        tags: ['events'],
        summary: 'WebSocket stream of events (query: company_id, instance_id, types, since, api_key)',
        querystring: wsQuery,
      },
      preValidation: async (req) => {
        // Tenant checks before the upgrade, so a refused subscription is a plain 404 response.
        const p = principal(req);
        const q = req.query as z.infer<typeof wsQuery>;
        if (p.kind !== 'admin' && q.company_id !== undefined && q.company_id !== p.companyId) {
          throw notFound('company', q.company_id);
        }
        if (q.instance_id !== undefined) await instances.get(p, q.instance_id);
        streams.admit(p);
      },
    },
    async (socket, req) => {
      const p = principal(req);
      trackSocket(streams, p, socket);
      const q = req.query as z.infer<typeof wsQuery>;
      const filter: StreamFilter = {
        company_id: p.kind === 'admin' ? q.company_id : p.companyId,
        instance_id: p.kind === 'instance' ? p.instanceId : q.instance_id,
        types: q.types,
      };
      await streamEventsToSocket(socket, { store: store, bus: bus }, p, filter, q.since);
    },
  );
};
