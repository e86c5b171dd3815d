// Company session API (seed 003) under /api/whatsapp: sessions, initialize, send, status, health, metrics, events.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { SessionView } from '../../core/company-sessions.js';
import { notFound } from '../../domain/errors.js';
import type { GatewayEvent, Principal } from '../../domain/model.js';
import { principal } from '../auth.js';
import { streamEventsToSocket, trackSocket } from '../event-socket.js';
import { companyIdSchema, errorBody, stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';
import { MAX_TEXT } from './messages.js';

const tags = ['company sessions (seed 003)'];
const params = z.object({ companyId: companyIdSchema });
const anyObject = z.record(z.string(), z.unknown());
const metricsView = z.object({
  totalSessions: z.number(),
  activeConnections: z.number(),
  failedReconnects: z.number(),
  messagesSent: z.number(),
  messagesReceived: z.number(),
  qrCodesGenerated: z.number(),
  errors: z.number(),
  lastError: z.string().nullable(),
});
const sendBody = z
  .object({
    phone: z.string().trim().min(1).max(32).describe('Phone number, e.g. 79001234567 or +79001234567.'),
    message: z.string().min(1).max(MAX_TEXT),
    options: z
      .object({ quoted: z.string().trim().min(1).max(128).optional().describe('Message id to reply to.') })
      .strict()
      .optional(),
  })
  .strict();

/** One event in seed 003's WebSocket shape: `type`, `companyId` and the fields its clients read. */
export function toSeedEvent(e: GatewayEvent): Record<string, unknown> {
  const d = e.data as Record<string, any>;
  const out: Record<string, unknown> = {
    id: e.id,
    type: e.type,
    companyId: e.company_id,
    instanceId: e.instance_id,
    timestamp: e.created_at,
    data: e.data,
  };
  if (e.type === 'qr') out.qr = d.qr;
  if (e.type === 'message') out.message = d.message;
  if (e.type === 'error') out.error = d.message;
  if (e.type === 'connected') out.phoneNumber = d.account ?? null;
  return out;
}

export const companySessionRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'bus' | 'companySessions' | 'pool' | 'store' | 'streams'>
> = async (app, { bus, companySessions, pool, store, streams }) => {
  const svc = companySessions;

  const metricsFor = async (p: Principal) => {
    const sessions = await svc.list(p);
    const counts = svc.counts(p.kind === 'admin' ? undefined : p.companyId);
    const connected = sessions.filter((s) => s.connected).length;
    return {
      sessions,
      metrics: { totalSessions: sessions.length, activeConnections: connected, ...counts },
      summary: { total: sessions.length, connected, disconnected: sessions.length - connected },
    };
  };
  const listItem = (s: SessionView) => ({
    companyId: s.companyId,
    connected: s.connected,
    status: s.status,
    health: s.connected ? 'healthy' : 'unhealthy',
  });

  app.get(
    '/api/whatsapp/sessions',
    {
      schema: {
        tags,
        summary: 'Company sessions visible to the caller (admin: all)',
        response: {
          200: z.object({
            success: z.literal(true),
            count: z.number(),
            sessions: z.array(
              z.object({
                companyId: z.string(),
                connected: z.boolean(),
                status: z.string(),
                health: z.string(),
              }),
            ),
            metrics: metricsView,
          }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const m = await metricsFor(principal(req));
      return {
        success: true as const,
        count: m.sessions.length,
        sessions: m.sessions.map(listItem),
        metrics: m.metrics,
      };
    },
  );

  app.post(
    '/api/whatsapp/sessions/:companyId/initialize',
    {
      schema: {
        tags,
        summary:
          "Create or reuse the company's WhatsApp session; returns its QR (qr, qrDataUrl, qrTerminal) or status",
        params,
        body: z.object({}).strict().nullish(),
        response: { 200: anyObject, 403: errorBody, 502: errorBody, ...stdErrors },
      },
    },
    async (req) => {
      const { companyId } = req.params;
      const s = await svc.initialize(principal(req), companyId);
      const inst = s.instance;
      if (s.connected) {
        return {
          success: true,
          companyId,
          connected: true,
          status: 'connected',
          phoneNumber: inst.account,
          message: 'WhatsApp session is already connected',
        };
      }
      if (inst.auth_status === 'qr_ready' && inst.qr) {
        return {
          success: true,
          companyId,
          connected: false,
          status: 'qr',
          qr: inst.qr,
          qrDataUrl: await QRCode.toDataURL(inst.qr, { margin: 2, scale: 6 }),
          qrTerminal: await QRCode.toString(inst.qr, { type: 'terminal', small: true }),
          message: 'Please scan the QR code with WhatsApp',
        };
      }
      return {
        success: true,
        companyId,
        connected: false,
        status: s.status,
        lastError: inst.last_error,
        message: 'The session is starting; call initialize again or watch /api/whatsapp/events for the QR',
      };
    },
  );

  app.post(
    '/api/whatsapp/sessions/:companyId/send',
    {
      schema: {
        tags,
        summary: "Send a text through the company's session (rate limited per company)",
        params,
        body: sendBody,
        response: {
          200: z.object({
            success: z.literal(true),
            companyId: z.string(),
            phone: z.string(),
            messageId: z.string().nullable(),
            timestamp: z.string(),
          }),
          409: errorBody,
          429: errorBody,
          502: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const { companyId } = req.params;
      const r = await svc.send(principal(req), companyId, {
        phone: req.body.phone,
        message: req.body.message,
        quoted: req.body.options?.quoted,
      });
      return { success: true as const, companyId, ...r };
    },
  );

  app.get(
    '/api/whatsapp/sessions/:companyId/status',
    {
      schema: {
        tags,
        summary: "The company session's status",
        params,
        response: {
          200: z.object({
            success: z.literal(true),
            companyId: z.string(),
            connected: z.boolean(),
            status: z.string(),
            reconnectAttempts: z.number(),
            health: z.object({ healthy: z.boolean(), phoneNumber: z.string().nullable() }),
          }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const { companyId } = req.params;
      const s = await svc.get(principal(req), companyId);
      return {
        success: true as const,
        companyId,
        connected: s?.connected ?? false,
        status: s?.status ?? 'not_initialized',
        reconnectAttempts: s?.reconnectAttempts ?? 0,
        health: { healthy: s?.connected ?? false, phoneNumber: s?.phoneNumber ?? null },
      };
    },
  );

  app.get(
    '/api/whatsapp/sessions/:companyId/health',
    {
      schema: {
        tags,
        summary: 'Health of the company session: 200 when connected, 503 when not',
        params,
        response: {
          200: z.object({
            success: z.boolean(),
            companyId: z.string(),
            healthy: z.boolean(),
            phoneNumber: z.string().nullable(),
            status: z.string(),
          }),
          503: z.object({
            success: z.boolean(),
            companyId: z.string(),
            healthy: z.boolean(),
            phoneNumber: z.string().nullable(),
            status: z.string(),
          }),
          ...stdErrors,
        },
      },
    },
    async (req, reply) => {
      const { companyId } = req.params;
      const s = await svc.get(principal(req), companyId);
      const healthy = s?.connected ?? false;
      reply.status(healthy ? 200 : 503);
      return {
        success: healthy,
        companyId,
        healthy,
        phoneNumber: s?.phoneNumber ?? null,
        status: s?.status ?? 'not_initialized',
      };
    },
  );

  app.get(
    '/api/whatsapp/metrics',
    {
      schema: {
        tags,
        summary: 'Session metrics (admin: all companies; a company: its own) and warm pool counts',
        response: {
          200: z.object({
            success: z.literal(true),
            metrics: metricsView,
            sessions: z.object({ total: z.number(), connected: z.number(), disconnected: z.number() }),
            pool: z.object({ enabled: z.boolean(), size: z.number(), free: z.number(), inUse: z.number() }),
            timestamp: z.string(),
          }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const m = await metricsFor(principal(req));
      const poolStats = await pool.stats();
      return {
        success: true as const,
        metrics: m.metrics,
        sessions: m.summary,
        pool: {
          enabled: poolStats.enabled,
          size: poolStats.size,
          free: poolStats.free,
          inUse: poolStats.in_use,
        },
        timestamp: new Date().toISOString(),
      };
    },
  );

  app.get(
    '/api/whatsapp/metrics/prometheus',
    {
      schema: {
        tags,
        summary: 'The same metrics in Prometheus text format',
        response: { 200: z.string(), ...stdErrors },
      },
    },
    async (req, reply) => {
      const { metrics: m } = await metricsFor(principal(req));
      const poolStats = await pool.stats();
      const lines: string[] = [];
      const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number) =>
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
      metric('whatsapp_sessions_total', 'gauge', 'Total number of sessions', m.totalSessions);
      metric('whatsapp_active_connections', 'gauge', 'Active WhatsApp connections', m.activeConnections);
      metric('whatsapp_messages_sent_total', 'counter', 'Total messages sent', m.messagesSent);
      metric('whatsapp_messages_received_total', 'counter', 'Total messages received', m.messagesReceived);
      metric('whatsapp_qr_codes_generated_total', 'counter', 'QR codes generated', m.qrCodesGenerated);
      metric('whatsapp_failed_reconnects_total', 'counter', 'Reconnects that gave up', m.failedReconnects);
      metric('whatsapp_errors_total', 'counter', 'Total errors', m.errors);
      metric('whatsapp_pool_size', 'gauge', 'Pooled instances', poolStats.size);
      metric('whatsapp_pool_free', 'gauge', 'Free pooled instances', poolStats.free);
      metric('whatsapp_pool_in_use', 'gauge', 'Pooled instances assigned to a company', poolStats.in_use);
      reply.type('text/plain; version=0.0.4; charset=utf-8');
      return `${lines.join('\n')}\n`;
    },
  );

  app.get(
    '/api/whatsapp/events',
    {
      websocket: true,
      config: { queryKey: true },
      schema: {
        tags,
        summary: 'WebSocket of session events in seed 003 shape (query: api_key, company_id, since)',
        querystring: z
          .object({
            api_key: z.string().optional(),
            company_id: companyIdSchema.optional(),
            since: z.coerce.number().int().min(0).optional(),
          })
          .strict(),
      },
      preValidation: async (req) => {
        const p = principal(req);
        const q = req.query as { company_id?: string };
        if (p.kind !== 'admin' && q.company_id !== undefined && q.company_id !== p.companyId) {
          throw notFound('company', q.company_id);
        }
        streams.admit(p);
      },
    },
    async (socket, req) => {
      const p = principal(req);
      trackSocket(streams, p, socket);
      const q = req.query as { company_id?: string; since?: number };
      const company = p.kind === 'admin' ? q.company_id : p.companyId;
      const filter = {
        company_id: company,
        instance_id: p.kind === 'instance' ? p.instanceId : undefined,
      };
      await streamEventsToSocket(socket, { store: store, bus: bus }, p, filter, q.since, toSeedEvent);
    },
  );
};
