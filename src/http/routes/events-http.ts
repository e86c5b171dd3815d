// `GET /api/v1/instances/:id/events`: an instance's event log over HTTP (timeline, polling clients).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { replayPage } from '../../delivery/event-stream.js';
import { principal } from '../auth.js';
import { eventTypesQuery, eventView, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';

export const eventsHttpRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'instances' | 'store'>> = async (
  app,
  { instances, store },
) => {
  app.get(
    '/api/v1/instances/:id/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Events of an instance, oldest first after `since` (use next_since to continue)',
        params: uuidParam,
        querystring: z
          .object({
            since: z.coerce.number().int().min(0).default(0),
            types: eventTypesQuery,
            limit: z.coerce.number().int().min(1).max(500).default(100),
          })
          .strict(),
        response: { 200: z.object({ events: z.array(eventView), next_since: z.number() }), ...stdErrors },
      },
    },
    async (req) => {
      const inst = await instances.get(principal(req), req.params.id);
      // Gap-free: an id that commits after a higher one is returned later, once, not skipped.
      const page = await replayPage(
        store,
        { instance_id: inst.id, company_id: inst.company_id, types: req.query.types },
        req.query.since,
        req.query.limit,
      );
      return { events: page.events, next_since: page.next_since };
    },
  );
};
