// Simulator controls: scan the QR, inject inbound messages, drop the connection, log out from the "phone".
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { canSeeInstance } from '../../core/access.js';
import { normalizeRecipient } from '../../core/addressing.js';
import { SbError } from '../../domain/errors.js';
import type { Instance } from '../../domain/model.js';
import { principal } from '../auth.js';
import { errorBody, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';
import { MAX_TEXT } from './messages.js';

const bodies = {
  scan: z
    .object({
      phone: z
        .string()
        .trim()
        .regex(/^\+?\d{8,15}$/, 'digits, optionally with a leading +')
        .optional(),
    })
    .strict(),
  inbound: z
    .object({
      from: z
        .string()
        .trim()
        .min(1)
        .max(128)
        .describe('Phone number or JID of the sender (a @g.us JID for a group).'),
      text: z.string().min(1).max(MAX_TEXT),
      name: z.string().trim().min(1).max(100).optional(),
      participant: z.string().trim().min(1).max(128).optional(),
      message_id: z.string().trim().min(1).max(128).optional(),
    })
    .strict(),
  drop: z.object({}).strict(),
  logout: z.object({}).strict(),
} as const;

export const simulateRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'instances' | 'supervisor'>> = async (
  app,
  { instances, supervisor },
) => {
  // The last instance rows this route saw: an inbound message to a live session keeps working (and is spooled)
  // while the database is down, as a real messenger's would. Only used when the lookup is unavailable.
  const seen = new Map<string, Pick<Instance, 'id' | 'company_id' | 'provider'>>();
  const lookup = async (req: Parameters<typeof principal>[0], id: string, action: string) => {
    try {
      const inst = await instances.get(principal(req), id);
      seen.delete(id);
      seen.set(id, { id: inst.id, company_id: inst.company_id, provider: inst.provider });
      if (seen.size > 10_000) seen.delete(seen.keys().next().value!);
      return inst;
    } catch (err) {
      const known = seen.get(id);
      const outage = err instanceof SbError && err.code === 'SB_ERR_UNAVAILABLE';
      if (
        outage &&
        action === 'inbound' &&
        known &&
        supervisor.has(id) &&
        canSeeInstance(principal(req), known)
      )
        return known;
      throw err;
    }
  };
  for (const action of Object.keys(bodies) as (keyof typeof bodies)[]) {
    app.post(
      `/api/v1/instances/:id/simulate/${action}`,
      {
        schema: {
          tags: ['simulator'],
          summary: `Simulator: ${action}`,
          params: uuidParam,
          body: bodies[action].nullish(),
          response: {
            200: z.record(z.string(), z.unknown()),
            409: errorBody,
            422: errorBody,
            ...stdErrors,
          },
        },
      },
      async (req) => {
        const inst = await lookup(req, req.params.id, action);
        const factory = instances.provider(inst.provider);
        if (!factory.capabilities.has('simulate')) {
          throw new SbError('SB_ERR_UNSUPPORTED', 'only simulator instances can be driven by /simulate');
        }
        const payload: Record<string, unknown> = { ...(req.body ?? {}) };
        if (action === 'inbound') {
          payload.from = normalizeRecipient(String(payload.from), 'phone', 'from');
          if (payload.participant)
            payload.participant = normalizeRecipient(String(payload.participant), 'phone', 'participant');
        }
        return supervisor.control(inst.id, action, payload);
      },
    );
  }
};
