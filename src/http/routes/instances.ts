// Instance manager API (seeds 000–002): create, list, read, change, delete instances and drive their sessions.
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import QRCode from 'qrcode';
import { z } from 'zod';
import { companyOf } from '../../core/access.js';
import { QrLinks } from '../../core/qr-links.js';
import { SbError } from '../../domain/errors.js';
import { AUTH_STATUSES, INSTANCE_STATUSES, INSTANCE_TYPES } from '../../domain/statuses.js';
import { mcpSchemaSchema } from '../../mcp/policy.js';
import { principal } from '../auth.js';
import {
  companyIdSchema,
  cursorQuery,
  errorBody,
  instanceView,
  limitQuery,
  stdErrors,
  uuidParam,
} from '../schemas.js';
import type { HttpServices } from '../services.js';
import { qrImageRoutes } from './qr-image.js';

const jsonObject = z.record(z.string(), z.unknown());

const typeInstance = z
  .union([z.array(z.enum(INSTANCE_TYPES)).min(1).max(2), z.enum(INSTANCE_TYPES).transform((v) => [v])])
  .transform((v) => [...new Set(v)]);

const createBody = z
  .object({
    company_id: companyIdSchema.optional(),
    user_id: companyIdSchema.optional().describe('Deprecated alias of company_id (seed 002 clients).'),
    provider: z.string().trim().min(1).max(40),
    type_instance: typeInstance.optional(),
    name: z.string().trim().min(1).max(100).nullable().optional(),
    token: z.string().trim().min(1).max(200).optional().describe('Telegram bot token.'),
    settings: jsonObject.optional(),
    webhook: jsonObject.optional(),
    api_webhook_schema: jsonObject.optional(),
    mcp_schema: mcpSchemaSchema
      .optional()
      .describe('The MCP safety policy; checked on write (400 naming the field).'),
    agent: jsonObject.optional(),
    start: z.boolean().optional().describe('Start the session at once (default true).'),
  })
  .strict()
  .refine((b) => b.company_id === undefined || b.user_id === undefined || b.company_id === b.user_id, {
    message: 'company_id and user_id differ; send company_id only',
    path: ['user_id'],
  });

const patchBody = z
  .object({
    name: z.string().trim().min(1).max(100).nullable().optional(),
    type_instance: typeInstance.optional(),
    token: z.string().trim().min(1).max(200).optional(),
    settings: jsonObject.optional(),
    api_webhook_schema: jsonObject.optional(),
    mcp_schema: mcpSchemaSchema
      .optional()
      .describe('The MCP safety policy; checked on write (400 naming the field).'),
    agent: jsonObject.optional(),
  })
  .strict();

const listQuery = z
  .object({
    company_id: companyIdSchema.optional(),
    user_id: companyIdSchema.optional(),
    provider: z.string().trim().min(1).max(40).optional(),
    status: z.enum(INSTANCE_STATUSES).optional(),
    auth_status: z.enum(AUTH_STATUSES).optional(),
    limit: limitQuery,
    cursor: cursorQuery,
  })
  .strict();

const instanceResponse = z.object({ instance: instanceView });
const statusResponse = z.object({
  id: z.string(),
  status: z.enum(INSTANCE_STATUSES),
  auth_status: z.enum(AUTH_STATUSES),
  account: z.string().nullable(),
  desired_state: z.string(),
  has_qr: z.boolean(),
  connected: z.boolean(),
  last_error: z.string().nullable(),
  updated_at: z.string(),
});

export const instanceRoutes: FastifyPluginAsyncZod<
  Pick<HttpServices, 'config' | 'instances' | 'store'>
> = async (app, { config, instances, store }) => {
  const svc = instances;
  const tags = ['instances'];
  const qrLinks = new QrLinks(store.meta, config.http.qrLinkTtlS);

  app.post(
    '/api/v1/instances',
    {
      schema: {
        tags,
        summary: 'Create an instance; the response carries its API key once',
        description:
          'company_id may be left out with a company key (its own company is used); an admin key must send it.',
        body: createBody,
        response: {
          201: z.object({
            instance: instanceView,
            api_key: z.string(),
            warnings: z.array(z.string()).optional(),
          }),
          ...stdErrors,
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const warnings: string[] = [];
      if (b.user_id !== undefined) {
        warnings.push('user_id is deprecated: send company_id instead (user_id was used as company_id)');
      }
      const p = principal(req);
      // A company (or user) credential names its company itself; a different company_id is refused by create().
      const companyId = b.company_id ?? b.user_id ?? companyOf(p);
      if (companyId === null) {
        throw new SbError('SB_ERR_VALIDATION', 'invalid body: company_id: required with an admin key', {
          details: [{ path: 'company_id', message: 'required with an admin key' }],
        });
      }
      const settings = { ...(b.settings ?? {}), ...(b.token !== undefined ? { token: b.token } : {}) };
      const { instance, api_key } = await svc.create(p, {
        company_id: companyId,
        provider: b.provider,
        name: b.name ?? null,
        type_instance: b.type_instance,
        settings,
        api_webhook_schema: b.api_webhook_schema ?? b.webhook,
        mcp_schema: b.mcp_schema,
        agent: b.agent,
        start: b.start,
      });
      reply.status(201);
      return { instance: await svc.view(instance), api_key, ...(warnings.length ? { warnings } : {}) };
    },
  );

  app.get(
    '/api/v1/instances',
    {
      schema: {
        tags,
        summary: 'List instances (paginated)',
        querystring: listQuery,
        response: {
          200: z.object({
            instances: z.array(instanceView),
            next_cursor: z.string().nullable(),
            warnings: z.array(z.string()).optional(),
          }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await svc.list(principal(req), {
        company_id: q.company_id ?? q.user_id,
        provider: q.provider,
        status: q.status,
        auth_status: q.auth_status,
        limit: q.limit,
        cursor: q.cursor,
      });
      return {
        instances: await svc.views(page.items),
        next_cursor: page.next_cursor,
        ...(q.user_id !== undefined ? { warnings: ['user_id is deprecated: use company_id'] } : {}),
      };
    },
  );

  app.get(
    '/api/v1/instances/:id',
    {
      schema: {
        tags,
        summary: 'Get an instance',
        params: uuidParam,
        response: { 200: instanceResponse, ...stdErrors },
      },
    },
    async (req) => ({ instance: await svc.view(await svc.get(principal(req), req.params.id)) }),
  );

  app.get(
    '/api/v1/instances/by-name/:name',
    {
      schema: {
        tags,
        summary: "Get an instance by its name (within the caller's company)",
        description:
          'Names are matched exactly. A company key searches its company; an admin key may narrow with company_id. ' +
          'Two instances with the same name answer 409 SB_ERR_AMBIGUOUS_NAME listing their ids.',
        params: z.object({ name: z.string().trim().min(1).max(100) }),
        querystring: z.object({ company_id: companyIdSchema.optional() }).strict(),
        response: { 200: instanceResponse, 409: errorBody, ...stdErrors },
      },
    },
    async (req) => {
      const p = principal(req);
      const { name } = req.params;
      // Pages through the caller's instances (a company holds few; no store-side name index yet).
      const found: Awaited<ReturnType<typeof svc.get>>[] = [];
      let cursor: string | undefined;
      do {
        const page = await svc.list(p, { company_id: req.query.company_id, limit: 200, cursor });
        found.push(...page.items.filter((i) => i.name === name));
        cursor = page.next_cursor ?? undefined;
      } while (cursor && found.length < 2);
      if (found.length === 0)
        throw new SbError('SB_ERR_INSTANCE_NOT_FOUND', `no instance named "${name}"`, {
          details: { name },
        });
      if (found.length > 1) {
        throw new SbError('SB_ERR_AMBIGUOUS_NAME', `several instances are named "${name}"; use an id`, {
          details: { name, ids: found.map((i) => i.id) },
        });
      }
      return { instance: await svc.view(found[0]) };
    },
  );

  app.patch(
    '/api/v1/instances/:id',
    {
      schema: {
        tags,
        summary: 'Change name, type, settings, webhook, MCP or agent settings',
        params: uuidParam,
        body: patchBody,
        response: { 200: instanceResponse, ...stdErrors },
      },
    },
    async (req) => {
      const b = req.body;
      const settings =
        b.settings !== undefined || b.token !== undefined
          ? { ...(b.settings ?? {}), ...(b.token !== undefined ? { token: b.token } : {}) }
          : undefined;
      const inst = await svc.update(principal(req), req.params.id, {
        name: b.name,
        type_instance: b.type_instance,
        settings,
        api_webhook_schema: b.api_webhook_schema,
        mcp_schema: b.mcp_schema,
        agent: b.agent,
      });
      return { instance: await svc.view(inst) };
    },
  );

  app.delete(
    '/api/v1/instances/:id',
    {
      schema: {
        tags,
        summary: 'Stop the session and delete the instance with its data',
        params: uuidParam,
        response: { 200: z.object({ deleted: z.literal(true), id: z.string() }), ...stdErrors },
      },
    },
    async (req) => {
      await svc.delete(principal(req), req.params.id);
      return { deleted: true as const, id: req.params.id };
    },
  );

  for (const action of ['start', 'stop', 'restart', 'logout'] as const) {
    app.post(
      `/api/v1/instances/:id/${action}`,
      {
        schema: {
          tags,
          summary: `${action[0].toUpperCase()}${action.slice(1)} the instance's session`,
          params: uuidParam,
          response: { 200: instanceResponse, ...stdErrors },
        },
      },
      async (req) => ({ instance: await svc.view(await svc[action](principal(req), req.params.id)) }),
    );
  }

  app.get(
    '/api/v1/instances/:id/status',
    {
      schema: {
        tags,
        summary: 'Session status',
        params: uuidParam,
        response: { 200: statusResponse, ...stdErrors },
      },
    },
    async (req) => {
      const i = await svc.get(principal(req), req.params.id);
      return {
        id: i.id,
        status: i.status,
        auth_status: i.auth_status,
        account: i.account,
        desired_state: i.desired_state,
        has_qr: i.qr !== null,
        connected: i.status === 'running' && i.auth_status === 'client_ready',
        last_error: i.last_error,
        updated_at: i.updated_at,
      };
    },
  );

  const qrJson = z.object({
    qr: z.string().describe('The QR payload (render it yourself, or use dataUrl / image_url).'),
    dataUrl: z.string().optional().describe('format=dataurl: a PNG data URL.'),
    updated_at: z.string().nullable(),
    image_url: z
      .string()
      .describe(
        'A signed link to the QR as PNG that needs no header (for an <img>); absolute when PUBLIC_URL is set, ' +
          'else a path. Expires at image_url_expires_at (QR_LINK_TTL_SECONDS, at most 5 minutes).',
      ),
    image_url_expires_at: z.string(),
  });
  app.get(
    '/api/v1/instances/:id/qr',
    {
      schema: {
        tags,
        summary: 'The current login QR (raw string, data URL, PNG or terminal text)',
        description:
          'format=raw (default) and format=dataurl answer JSON with a signed image_url; png answers image/png; ' +
          'terminal answers text/plain.',
        params: uuidParam,
        querystring: z
          .object({ format: z.enum(['raw', 'dataurl', 'png', 'terminal']).default('raw') })
          .strict(),
        response: { 200: qrJson, 409: errorBody, ...stdErrors },
      },
    },
    async (req, reply) => {
      const { qr, updated_at, instance } = await svc.qr(principal(req), req.params.id);
      // PNG and terminal text bypass the JSON schema (Fastify never serialises a Buffer or a text/plain string).
      const raw = reply as unknown as FastifyReply;
      switch (req.query.format) {
        case 'png':
          return raw.type('image/png').send(await QRCode.toBuffer(qr, { type: 'png', margin: 2, scale: 6 }));
        case 'terminal':
          return raw
            .type('text/plain; charset=utf-8')
            .send(await QRCode.toString(qr, { type: 'terminal', small: true }));
        default: {
          const { exp, sig } = await qrLinks.issue(instance);
          const path = `/api/v1/instances/${instance.id}/qr.png?exp=${exp}&sig=${sig}`;
          const link = {
            image_url: `${config.publicUrl ?? ''}${path}`,
            image_url_expires_at: new Date(exp * 1000).toISOString(),
          };
          if (req.query.format === 'dataurl')
            return {
              qr,
              dataUrl: await QRCode.toDataURL(qr, { margin: 2, scale: 6 }),
              updated_at,
              ...link,
            };
          return { qr, updated_at, ...link };
        }
      }
    },
  );
  await app.register(qrImageRoutes, { store, links: qrLinks });

  app.post(
    '/api/v1/instances/:id/keys/rotate',
    {
      schema: {
        tags,
        summary: 'Replace the instance API key (the old one stops working); the new key is shown once',
        params: uuidParam,
        response: { 200: z.object({ api_key: z.string() }), ...stdErrors },
      },
    },
    async (req) => svc.rotateKey(principal(req), req.params.id),
  );
};
