// "Connect my WhatsApp" (seed 004): connect from the warm pool, disconnect, my-connection; GET /api/v1/pool.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireAdmin } from '../../core/access.js';
import { SbError } from '../../domain/errors.js';
import type { Instance } from '../../domain/model.js';
import { principal } from '../auth.js';
import { errorBody, stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';

const tags = ['connect my WhatsApp (seed 004)'];
const anyObject = z.record(z.string(), z.unknown());
const seedError = z.object({ error: z.string(), message: z.string() });

/** Seed 004 (WAHA) status words for an instance. */
export function wahaStatus(inst: Pick<Instance, 'status' | 'auth_status'>): string {
  switch (inst.auth_status) {
    case 'client_ready':
      return 'WORKING';
    case 'qr_ready':
      return 'SCAN_QR_CODE';
    case 'failed':
      return 'FAILED';
    case 'logged_out':
    case 'disconnected':
      return 'STOPPED';
    default:
      return inst.status === 'stopped' ? 'STOPPED' : inst.status === 'error' ? 'FAILED' : 'STARTING';
  }
}

/** `5511999999999@c.us` for an account JID (seed 004's phoneNumber), null when not logged in. */
export function cUs(account: string | null): string | null {
  if (!account) return null;
  const m = /^(\d+)(?::\d+)?@(s\.whatsapp\.net|c\.us)$/.exec(account);
  return m ? `${m[1]}@c.us` : account;
}

export const connectRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'pool' | 'store'>> = async (
  app,
  { pool, store },
) => {
  app.post(
    '/api/whatsapp/connect',
    {
      schema: {
        tags,
        summary:
          "Connect the caller's WhatsApp: a QR from the warm pool (or the existing connection's QR/status)",
        body: z.object({}).strict().nullish(),
        response: { 200: anyObject, 403: errorBody, 503: seedError, ...stdErrors },
      },
    },
    async (req, reply) => {
      try {
        const r = await pool.connect(principal(req));
        const inst = r.instance;
        if (r.kind === 'qr') {
          return {
            success: true,
            method: 'qr',
            qrCode: r.qrCode,
            instanceName: inst.name,
            message: 'Escaneie o QR Code com seu WhatsApp',
          };
        }
        if (r.kind === 'connected') {
          return {
            success: true,
            method: 'connected',
            connected: true,
            instanceName: inst.name,
            status: wahaStatus(inst),
            phoneNumber: cUs(inst.account),
            message: 'WhatsApp já conectado',
          };
        }
        return {
          success: true,
          method: 'pending',
          connected: false,
          instanceName: inst.name,
          status: wahaStatus(inst),
          message: 'Preparando o QR Code, tente novamente em alguns segundos',
        };
      } catch (err) {
        if (err instanceof SbError && err.code === 'SB_ERR_POOL_EMPTY') {
          reply.status(503).header('Retry-After', '5');
          return {
            error: 'Não há instâncias disponíveis no momento',
            message: 'Tente novamente em alguns segundos. Estamos criando mais instâncias.',
          };
        }
        throw err;
      }
    },
  );

  app.post(
    '/api/whatsapp/disconnect',
    {
      schema: {
        tags,
        summary: "Log the caller's WhatsApp out and return its instance to the pool",
        body: z.object({}).strict().nullish(),
        response: {
          200: z.object({ success: z.literal(true), message: z.string() }),
          403: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const had = await pool.disconnect(principal(req));
      return {
        success: true as const,
        message: had ? 'WhatsApp desconectado com sucesso' : 'WhatsApp não conectado',
      };
    },
  );

  app.get(
    '/api/whatsapp/my-connection',
    {
      schema: {
        tags,
        summary: "The caller's WhatsApp connection",
        response: { 200: anyObject, 403: errorBody, ...stdErrors },
      },
    },
    async (req) => {
      const p = principal(req);
      if (p.kind === 'admin') throw new SbError('SB_ERR_FORBIDDEN', 'sign in as a user or use a company key');
      const conn = await store.connections.get(p.companyId);
      const inst = conn ? await store.instances.get(conn.instance_id) : null;
      if (!inst) return { success: true, connected: false, message: 'WhatsApp não conectado' };
      const connected = inst.auth_status === 'client_ready';
      return {
        success: true,
        connected,
        instanceName: inst.name,
        status: wahaStatus(inst),
        phoneNumber: connected ? cUs(inst.account) : null,
      };
    },
  );

  app.get(
    '/api/v1/pool',
    {
      schema: {
        tags: ['pool'],
        summary: 'Warm pool counts (admin)',
        response: {
          200: z.object({
            pool: z.object({
              enabled: z.boolean(),
              provider: z.string(),
              size: z.number(),
              free: z.number(),
              ready: z.number(),
              in_use: z.number(),
              target: z.number(),
              min_free: z.number(),
              refill: z.number(),
              refilling: z.boolean(),
            }),
          }),
          403: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req) => {
      requireAdmin(principal(req));
      return { pool: await pool.stats() };
    },
  );
};
