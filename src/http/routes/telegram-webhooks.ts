// Telegram webhook receiver: `POST /webhooks/telegram/:instanceId`, public, verified by the bot's secret token.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../../domain/errors.js';
import { errorBody, stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';

const params = z.object({ instanceId: z.uuid({ message: 'must be a UUID' }) });

/** Telegram posts each update here in webhook mode (PUBLIC_URL set); the session checks the secret token. */
export const telegramWebhookRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'providers' | 'store' | 'supervisor'>
> = async (app, { providers, store, supervisor }) => {
  app.post(
    '/webhooks/telegram/:instanceId',
    {
      config: { public: true },
      schema: {
        tags: ['webhooks'],
        security: [],
        summary: 'Telegram Bot API webhook (X-Telegram-Bot-Api-Secret-Token checked)',
        params,
        body: z.object({ update_id: z.number().int() }).passthrough(),
        response: { 200: z.object({ ok: z.boolean() }), 409: errorBody, ...stdErrors },
      },
    },
    async (req) => {
      const id = req.params.instanceId;
      const inst = await store.instances.get(id);
      if (!inst || providers.get(inst.provider)?.name !== 'telegram') throw notFound('instance', id);
      const secret = req.headers['x-telegram-bot-api-secret-token'];
      await supervisor.control(id, 'webhook', {
        secret: typeof secret === 'string' ? secret : '',
        update: req.body,
      });
      return { ok: true };
    },
  );
};
