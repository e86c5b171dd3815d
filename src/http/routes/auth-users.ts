// Users and sign-in: POST /api/auth/login (JWT), GET /api/auth/me, company users under /api/v1/companies/:id/users.
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { User, UserService } from '../../core/users.js';
import { type PrincipalResolver, principal } from '../auth.js';
import { companyIdSchema, errorBody, stdErrors } from '../schemas.js';
import type { HttpServices } from '../services.js';

const signedIn = new WeakMap<FastifyRequest, User>();

/** Authenticates a user's bearer JWT as a company principal (`keyId: user:<id>`) and remembers the user. */
export function userTokenResolver(users: Pick<UserService, 'resolveToken'>): PrincipalResolver {
  return async (token, req) => {
    const r = await users.resolveToken(token);
    if (!r) return null;
    signedIn.set(req, r.user);
    return r.principal;
  };
}

/** The signed-in user of a request, or null when it was authenticated with an API key. */
export function currentUser(req: FastifyRequest): User | null {
  return signedIn.get(req) ?? null;
}

export const userView = z
  .object({
    id: z.string(),
    company_id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    created_at: z.string(),
    last_login_at: z.string().nullable(),
  })
  .meta({ id: 'User' });

const email = z.email({ message: 'must be an email address' }).max(254);
const idParam = z.object({ id: companyIdSchema });

export const authUserRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'users'>> = async (app, { users }) => {
  app.post(
    '/api/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password; returns a bearer token (JWT) and the user',
        security: [],
        body: z.object({ email, password: z.string().min(1).max(256) }).strict(),
        response: {
          200: z.object({ token: z.string(), user: userView }),
          400: errorBody,
          401: errorBody,
          429: errorBody,
        },
      },
    },
    async (req) => users.login(req.body.email, req.body.password, req.ip),
  );

  app.get(
    '/api/auth/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Who is calling: the signed-in user (null for API keys) and the principal',
        response: {
          200: z.object({
            user: userView.nullable(),
            principal: z.object({ kind: z.string(), company_id: z.string().nullable() }),
          }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const p = principal(req);
      return {
        user: currentUser(req),
        principal: { kind: p.kind, company_id: p.kind === 'admin' ? null : p.companyId },
      };
    },
  );

  app.post(
    '/api/v1/companies/:id/users',
    {
      schema: {
        tags: ['companies'],
        summary: 'Create a user of the company (admin or company key)',
        params: idParam,
        body: z
          .object({
            email,
            password: z.string().min(8, 'at least 8 characters').max(256),
            name: z.string().trim().min(1).max(200).nullable().optional(),
          })
          .strict(),
        response: { 201: z.object({ user: userView }), 403: errorBody, 409: errorBody, ...stdErrors },
      },
    },
    async (req, reply) => {
      const user = await users.create(principal(req), req.params.id, req.body);
      reply.status(201);
      return { user };
    },
  );

  app.get(
    '/api/v1/companies/:id/users',
    {
      schema: {
        tags: ['companies'],
        summary: 'Users of the company',
        params: idParam,
        response: { 200: z.object({ users: z.array(userView) }), 403: errorBody, ...stdErrors },
      },
    },
    async (req) => ({ users: await users.list(principal(req), req.params.id) }),
  );
};
