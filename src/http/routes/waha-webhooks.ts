// WAHA webhook receiver: `POST /webhooks/waha/:instanceId`, public, HMAC-checked when a key is configured.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound, SbError } from '../../domain/errors.js';
import type { Gateway } from '../../gateway.js';
import { verifyHexHmac } from '../hmac.js';
import { errorBody, stdErrors } from '../schemas.js';

const params = z.object({ instanceId: z.uuid({ message: 'must be a UUID' }) });

const body = z
  .object({
    event: z.string().min(1).max(64),
    session: z.string().min(1).max(128),
    payload: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();

/**
 * WAHA posts `session.status`, `message` and `message.ack` here; the instance's session maps them to events.
 * With WAHA_WEBHOOK_HMAC_KEY set, a missing or wrong `X-Webhook-Hmac` (sha512 of the raw body) is refused (401).
 */
export const wahaWebhookRoutes =
  (gw: Gateway): FastifyPluginAsyncZod =>
  async (app) => {
    // The HMAC covers the exact bytes WAHA sent: keep them next to the parsed body (this plugin's scope only).
    const raw = new WeakMap<FastifyRequest, Buffer>();
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, buf, done) => {
      raw.set(req, buf as Buffer);
      try {
        done(null, (buf as Buffer).length ? JSON.parse((buf as Buffer).toString('utf8')) : undefined);
      } catch {
        done(new SbError('SB_ERR_BAD_JSON', 'the request body is not valid JSON'), undefined);
      }
    });

    app.post(
      '/webhooks/waha/:instanceId',
      {
        config: { public: true },
        schema: {
          tags: ['webhooks'],
          security: [],
          summary:
            'WAHA webhook (session.status, message, message.ack); X-Webhook-Hmac checked when configured',
          params,
          body,
          response: { 200: z.record(z.string(), z.unknown()), 409: errorBody, ...stdErrors },
        },
      },
      async (req) => {
        const key = gw.config.waha.webhookHmacKey;
        if (key) {
          const sig = req.headers['x-webhook-hmac'];
          if (!verifyHexHmac(raw.get(req) ?? '', typeof sig === 'string' ? sig : undefined, key, 'sha512')) {
            throw new SbError('SB_ERR_UNAUTHORIZED', 'missing or invalid X-Webhook-Hmac');
          }
        }
        const id = req.params.instanceId;
        const inst = await gw.store.instances.get(id);
        if (!inst || gw.providers.get(inst.provider)?.name !== 'waha') throw notFound('instance', id);
        return gw.supervisor.control(id, 'webhook', req.body as Record<string, unknown>);
      },
    );
  };
