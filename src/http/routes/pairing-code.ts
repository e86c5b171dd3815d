// Pairing code login: POST /api/v1/instances/:id/pairing-code {phone} → {code} (WhatsApp's "link with phone number").
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SbError } from '../../domain/errors.js';
import { principal } from '../auth.js';
import { errorBody, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';

const body = z
  .object({
    phone: z
      .string()
      .trim()
      .regex(/^\+?[\d\s()-]{6,24}$/, 'a phone number in international format, e.g. +4915123456789')
      .describe('The phone number of the WhatsApp account to link (international format).'),
  })
  .strict();

/** Route plugin: asks the provider for a pairing code (instead of a QR scan). */
export const pairingCodeRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'instances' | 'supervisor'>
> = async (app, { instances, supervisor }) => {
  app.post(
    '/api/v1/instances/:id/pairing-code',
    {
      schema: {
        tags: ['instances'],
        summary: 'Request a pairing code to link the account by phone number instead of a QR scan',
        params: uuidParam,
        body,
        response: {
          200: z.object({ code: z.string() }),
          409: errorBody,
          422: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const inst = await instances.get(principal(req), req.params.id);
      if (!instances.provider(inst.provider).capabilities.has('pairingCode')) {
        throw new SbError('SB_ERR_UNSUPPORTED', `provider ${inst.provider} does not support pairing codes`);
      }
      const phone = req.body.phone.replace(/\D/g, '');
      const out = await supervisor.control(inst.id, 'pairing_code', { phone });
      return { code: String(out.code) };
    },
  );
};
