// WhatsApp identities: look a LID up (its phone JID), or a phone up (its LID), within one instance.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SbError } from '../../domain/errors.js';
import { phoneOfUserJid } from '../../domain/phones.js';
import { principal } from '../auth.js';
import { stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';

const identityView = z
  .object({
    lid: z.string().describe('The LID JID, `<digits>@lid`.'),
    pn: z.string().describe('The phone-number JID, `<digits>@s.whatsapp.net`.'),
    phone: z.string().nullable().describe('The phone number in E.164.'),
  })
  .meta({ id: 'WhatsAppIdentity' });

const lidParam = uuidParam.extend({
  lid: z
    .string()
    .trim()
    .regex(/^\d{1,20}(:\d+)?(@lid)?$/, 'a WhatsApp LID: digits, optionally with @lid')
    .describe('The LID, as `<digits>@lid` or just the digits.'),
});

/** Route plugin: LID → phone lookups for WhatsApp instances. */
export const identityRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'identities' | 'instances'>> = async (
  app,
  { identities, instances },
) => {
  app.get(
    '/api/v1/instances/:id/lids/:lid',
    {
      schema: {
        tags: ['contacts'],
        summary: 'The phone number behind a WhatsApp LID, when WhatsApp has told it',
        description:
          'WhatsApp may address a contact by a privacy id (LID) instead of the phone number. The gateway stores ' +
          'both whenever WhatsApp tells the pair (sender_pn, participant_pn, usync answers, LID mapping updates); ' +
          '404 SB_ERR_IDENTITY_NOT_FOUND until then.',
        params: lidParam,
        response: { 200: identityView, ...stdErrors },
      },
    },
    async (req) => {
      const inst = await instances.get(principal(req), req.params.id);
      const lid = `${req.params.lid.replace(/@lid$/, '').split(':')[0]}@lid`;
      const pn = await identities.pnForLid(inst.id, lid);
      if (!pn) throw new SbError('SB_ERR_IDENTITY_NOT_FOUND', `no phone number is known for ${lid}`);
      return { lid, pn, phone: phoneOfUserJid(pn) };
    },
  );
};
