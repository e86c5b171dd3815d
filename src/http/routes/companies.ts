// Companies (tenants) and their API keys: create, list, issue a key (shown once), revoke.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { assertCompany, requireAdmin } from '../../core/access.js';
import { notFound, SbError } from '../../domain/errors.js';
import { KEY_SCOPES } from '../../domain/model.js';
import { principal } from '../auth.js';
import { companyIdSchema, errorBody, stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';

const companyView = z
  .object({ id: z.string(), name: z.string(), created_at: z.string() })
  .meta({ id: 'Company' });
const keyView = z
  .object({
    id: z.string(),
    prefix: z.string(),
    kind: z.string(),
    company_id: z.string().nullable(),
    scopes: z.array(z.string()),
    instance_ids: z.array(z.string()).nullable().optional(),
    label: z.string().nullable(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
  })
  .meta({ id: 'ApiKey' });
const idParam = z.object({ id: companyIdSchema });

export const companyRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'credentials' | 'store'>> = async (
  app,
  { credentials, store },
) => {
  const tags = ['companies'];

  app.post(
    '/api/v1/companies',
    {
      schema: {
        tags,
        summary: 'Create a company (admin)',
        body: z.object({ id: companyIdSchema, name: z.string().trim().min(1).max(200) }).strict(),
        response: { 201: z.object({ company: companyView }), 403: errorBody, 409: errorBody, ...stdErrors },
      },
    },
    async (req, reply) => {
      requireAdmin(principal(req));
      const company = await store.companies.create(req.body);
      if (!company) throw new SbError('SB_ERR_COMPANY_EXISTS', `company ${req.body.id} already exists`);
      reply.status(201);
      return { company };
    },
  );

  app.get(
    '/api/v1/companies',
    {
      schema: {
        tags,
        summary: 'Companies visible to the caller',
        response: { 200: z.object({ companies: z.array(companyView) }), ...stdErrors },
      },
    },
    async (req) => {
      const p = principal(req);
      if (p.kind === 'admin') return { companies: await store.companies.list() };
      const c = await store.companies.get(p.companyId);
      return { companies: c ? [c] : [] };
    },
  );

  app.get(
    '/api/v1/companies/:id',
    {
      schema: {
        tags,
        summary: 'One company',
        params: idParam,
        response: { 200: z.object({ company: companyView }), ...stdErrors },
      },
    },
    async (req) => {
      assertCompany(principal(req), req.params.id);
      const company = await store.companies.get(req.params.id);
      if (!company) throw notFound('company', req.params.id);
      return { company };
    },
  );

  app.post(
    '/api/v1/companies/:id/keys',
    {
      schema: {
        tags,
        summary:
          'Issue a company API key (admin scope; never more scopes or instances than the caller holds); shown once',
        params: idParam,
        body: z
          .object({
            label: z.string().trim().min(1).max(100).optional(),
            scopes: z
              .array(z.enum(KEY_SCOPES))
              .max(4)
              .optional()
              .describe('Omit for a full-access key; otherwise any of read, send, control, admin.'),
            instance_ids: z
              .array(z.uuid())
              .min(1)
              .max(100)
              .optional()
              .describe('Restrict the key to these instances.'),
          })
          .strict()
          .nullish(),
        response: { 201: z.object({ key: z.string(), api_key: keyView }), 403: errorBody, ...stdErrors },
      },
    },
    async (req, reply) => {
      const issued = await credentials.issueCompanyKey(principal(req), req.params.id, {
        scopes: req.body?.scopes,
        instance_ids: req.body?.instance_ids,
        label: req.body?.label,
      });
      reply.status(201);
      return issued;
    },
  );

  app.get(
    '/api/v1/companies/:id/keys',
    {
      schema: {
        tags,
        summary: 'Company keys (prefix only, never the key)',
        params: idParam,
        response: { 200: z.object({ keys: z.array(keyView) }), ...stdErrors },
      },
    },
    async (req) => ({ keys: await credentials.listCompanyKeys(principal(req), req.params.id) }),
  );

  app.delete(
    '/api/v1/companies/:id/keys/:keyId',
    {
      schema: {
        tags,
        summary: 'Revoke a company key',
        params: idParam.extend({ keyId: z.uuid() }),
        response: { 200: z.object({ revoked: z.literal(true) }), ...stdErrors },
      },
    },
    async (req) => {
      await credentials.revokeCompanyKey(principal(req), req.params.id, req.params.keyId);
      return { revoked: true as const };
    },
  );
};
