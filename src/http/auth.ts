// Authentication: resolves `Authorization: Bearer`, `X-Api-Key` (or `?api_key=` where allowed) to a Principal.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasScope } from '../core/access.js';
import { SbError } from '../domain/errors.js';
import type { KeyScope, Principal } from '../domain/model.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** No key needed (health, docs, login). */
    public?: boolean;
    /** Accept the key as `?api_key=` (browsers cannot set WebSocket headers). */
    queryKey?: boolean;
    /** The scope a scoped company key needs; by default derived from the method and path (see requiredScope). */
    scope?: KeyScope;
  }
}

/** Resolves a presented key to a principal, or null. Extra resolvers (user tokens) can be chained. */
export type PrincipalResolver = (token: string, req: FastifyRequest) => Promise<Principal | null>;

export function presentedKey(req: FastifyRequest, allowQuery: boolean): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  const x = req.headers['x-api-key'];
  if (typeof x === 'string' && x.length > 0) return x.trim();
  if (allowQuery) {
    const q = (req.query as Record<string, unknown> | undefined)?.api_key;
    if (typeof q === 'string' && q.length > 0) return q;
  }
  return null;
}

/** Registers the hook that authenticates every non-public route. */
export function registerAuth(app: FastifyInstance, resolvers: PrincipalResolver[]): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (req) => {
    const cfg = req.routeOptions.config ?? {};
    if (cfg.public || !req.routeOptions.url) return;
    const key = presentedKey(req, cfg.queryKey === true);
    if (!key)
      throw new SbError(
        'SB_ERR_UNAUTHORIZED',
        'missing API key: send Authorization: Bearer <key> or X-Api-Key',
      );
    for (const resolve of resolvers) {
      const p = await resolve(key, req);
      if (p) {
        req.principal = p;
        const scope = cfg.scope ?? requiredScope(req.method, req.routeOptions.url);
        if (!hasScope(p, scope)) {
          throw new SbError('SB_ERR_SCOPE_MISSING', `this key lacks the "${scope}" scope`, {
            details: { scope },
          });
        }
        return;
      }
    }
    throw new SbError('SB_ERR_UNAUTHORIZED', 'invalid or revoked API key');
  });
}

/**
 * The scope an operation needs by default: a company's keys and users (listing them too) need `admin`; other reads
 * need `read`; sending needs `send`; everything else that changes state needs `control`.
 */
export function requiredScope(method: string, url: string): KeyScope {
  if (/^\/api\/v1\/companies\/:id\/(keys|users)/.test(url)) return 'admin';
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (/\/(messages|send)$/.test(url)) return 'send';
  return 'control';
}

/** The authenticated principal of a request (routes behind the auth hook always have one). */
export function principal(req: FastifyRequest): Principal {
  if (!req.principal) throw new SbError('SB_ERR_UNAUTHORIZED', 'not authenticated');
  return req.principal;
}
