// WAHA webhook receivers: `POST /webhooks/waha/:instanceId` and seed 004's global `POST /webhook`, always authenticated.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { instanceIdOfWahaSession, WAHA_TOKEN_HEADER, WahaWebhookTokens } from '../../core/waha-identity.js';
import { notFound, SbError } from '../../domain/errors.js';
import type { Instance } from '../../domain/model.js';
import { verifyHexHmac } from '../hmac.js';
import { errorBody, stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';

const params = z.object({ instanceId: z.uuid({ message: 'must be a UUID' }) });
const body = z
  .object({
    event: z.string().min(1).max(64),
    session: z.string().min(1).max(128),
    payload: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();
type WahaBody = z.infer<typeof body>;

/** Seed 004's `status.instance` statuses → WAHA session statuses. */
const SEED_STATUS: Record<string, string> = {
  disconnected: 'STOPPED',
  stopped: 'STOPPED',
  starting: 'STARTING',
  scan_qr_code: 'SCAN_QR_CODE',
  qr: 'SCAN_QR_CODE',
  connected: 'WORKING',
  working: 'WORKING',
  failed: 'FAILED',
};

/**
 * WAHA posts `session.status`, `message` and `message.ack` here; the instance's session maps them to events.
 * Every body is authenticated: with WAHA_WEBHOOK_HMAC_KEY set, by `X-Webhook-Hmac` (sha512 of the raw body);
 * otherwise by the instance's token in `X-Switchboard-Webhook-Token`, which Switchboard put into the WAHA
 * session's webhook config (`customHeaders`) and WAHA echoes. Anything else is 401 and changes nothing.
 */
export const wahaWebhookRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'config' | 'pool' | 'providers' | 'store' | 'supervisor'>
> = async (app, { config, pool, providers, store, supervisor }) => {
  const tokens = new WahaWebhookTokens(store.meta);
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

  const header = (req: FastifyRequest, name: string): string | undefined => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };

  /** HMAC when a key is configured, else the instance's token; `instanceId` null = not one of our sessions. */
  async function authenticate(req: FastifyRequest, instanceId: string | null): Promise<void> {
    const key = config.waha.webhookHmacKey;
    if (key) {
      if (!verifyHexHmac(raw.get(req) ?? '', header(req, 'x-webhook-hmac'), key, 'sha512')) {
        throw new SbError('SB_ERR_UNAUTHORIZED', 'missing or invalid X-Webhook-Hmac');
      }
      return;
    }
    if (!instanceId || !(await tokens.verify(instanceId, header(req, WAHA_TOKEN_HEADER)))) {
      throw new SbError('SB_ERR_UNAUTHORIZED', `missing or invalid ${WAHA_TOKEN_HEADER}`);
    }
  }

  async function wahaInstance(id: string): Promise<Instance> {
    const inst = await store.instances.get(id);
    if (!inst || providers.get(inst.provider)?.name !== 'waha') throw notFound('instance', id);
    return inst;
  }

  app.post(
    '/webhooks/waha/:instanceId',
    {
      config: { public: true },
      schema: {
        tags: ['webhooks'],
        security: [],
        summary:
          'WAHA webhook (session.status, message, message.ack); X-Webhook-Hmac or the instance token required',
        params,
        body,
        response: { 200: z.record(z.string(), z.unknown()), 409: errorBody, ...stdErrors },
      },
    },
    async (req) => {
      const id = req.params.instanceId;
      await authenticate(req, id);
      await wahaInstance(id);
      return supervisor.control(id, 'webhook', req.body as Record<string, unknown>);
    },
  );

  app.post(
    '/webhook',
    {
      config: { public: true },
      schema: {
        tags: ['webhooks'],
        security: [],
        summary:
          "Seed 004's global WAHA webhook (session.status, status.instance, message, message.ack), routed by session name",
        body,
        response: { 200: z.record(z.string(), z.unknown()), 409: errorBody, ...stdErrors },
      },
    },
    async (req) => {
      const hook = req.body as WahaBody;
      const id = instanceIdOfWahaSession(hook.session);
      await authenticate(req, id);
      if (!id) throw notFound('instance', hook.session);
      const inst = await wahaInstance(id);
      if (hook.event === 'status.instance') {
        const given = String(hook.payload?.status ?? '').toLowerCase();
        const status = SEED_STATUS[given];
        if (!status) {
          throw new SbError('SB_ERR_VALIDATION', `unknown status.instance status ${given || '(none)'}`);
        }
        // Seed 004: a disconnected pooled instance goes back to the pool (a clean slate for the next company).
        if (given === 'disconnected' && inst.is_pooled && inst.assigned_to !== null) {
          await pool.release(id, 'waha status.instance disconnected');
          return { handled: 'status.instance', released: true };
        }
        return supervisor.control(id, 'webhook', {
          ...hook,
          event: 'session.status',
          payload: { ...hook.payload, status },
        });
      }
      if (hook.event === 'session.status' || hook.event === 'message' || hook.event === 'message.ack') {
        return supervisor.control(id, 'webhook', hook as Record<string, unknown>);
      }
      return { ignored: hook.event };
    },
  );
};
