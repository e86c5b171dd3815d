// Media bytes on demand: GET /api/v1/instances/:id/messages/:messageId/media (fetched from the messenger).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SbError } from '../../domain/errors.js';
import { principal } from '../auth.js';
import { errorBody, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';

/** Route plugin: downloads an inbound media message through the instance's live session. */
export const messageMediaRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'instances' | 'messaging' | 'supervisor'>
> = async (app, { instances, messaging, supervisor }) => {
  app.get(
    '/api/v1/instances/:id/messages/:messageId/media',
    {
      schema: {
        tags: ['messages'],
        summary: 'The media bytes of a received message (image, video, audio, document, sticker)',
        params: uuidParam.extend({ messageId: z.string().trim().min(1).max(128) }),
        response: {
          200: z.any().describe('The media bytes, with their MIME type'),
          409: errorBody,
          422: errorBody,
          502: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req, reply) => {
      const p = principal(req);
      const message = await messaging.getMessage(p, req.params.id, req.params.messageId);
      const inst = await instances.get(p, req.params.id);
      if (!instances.provider(inst.provider).capabilities.has('media')) {
        throw new SbError('SB_ERR_UNSUPPORTED', `provider ${inst.provider} has no media download`);
      }
      if (!message.media || !message.message_id) {
        throw new SbError('SB_ERR_MESSAGE_NOT_FOUND', 'this message has no media');
      }
      const out = await supervisor.control(inst.id, 'download_media', {
        message_id: message.message_id,
      });
      if (!Buffer.isBuffer(out.data)) throw new SbError('SB_ERR_PROVIDER', 'the provider returned no media');
      const filename = typeof out.filename === 'string' ? out.filename.replace(/["\\\r\n]/g, '_') : null;
      if (filename) reply.header('content-disposition', `inline; filename="${filename}"`);
      return reply
        .type(typeof out.mimetype === 'string' ? out.mimetype : 'application/octet-stream')
        .send(out.data);
    },
  );
};
