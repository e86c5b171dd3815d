// The input guard every route passes: NUL bytes, lone surrogates and over-deep JSON are a coded 400 before validation.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SbError } from '../domain/errors.js';
import { findHostileText, MAX_JSON_DEPTH, scrubDeep, valueTooDeep } from '../domain/text.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The body is a messenger's input (provider webhooks under `/webhooks/`): NUL bytes and lone surrogates are
     * replaced by U+FFFD so the message is stored, instead of the request being refused.
     */
    providerInput?: boolean;
  }
}

/** The error for a body nested deeper than MAX_JSON_DEPTH (also thrown by the JSON body parser). */
export const tooDeepError = (): SbError =>
  new SbError(
    'SB_ERR_BAD_JSON',
    `the request body nests objects or arrays deeper than ${MAX_JSON_DEPTH} levels`,
    {
      details: { max_depth: MAX_JSON_DEPTH },
    },
  );

function refuseHostile(where: 'params' | 'querystring' | 'headers' | 'body', value: unknown): void {
  const hit = findHostileText(value);
  if (!hit) return;
  const path = hit.path || where;
  throw new SbError('SB_ERR_VALIDATION', `invalid ${where}: ${path}: ${hit.message}`, {
    details: [{ in: where, path, message: hit.message }],
  });
}

/**
 * Registers the guard as an application-wide `preValidation` hook, so it runs for every route — including routes
 * added later, routes without a schema, WebSocket upgrades and plugins with their own body parser — after
 * authentication and before schema validation and the handler. PostgreSQL cannot store U+0000 in text or jsonb, nor
 * a lone surrogate in jsonb; refusing them here means no route can forget it. Provider webhooks (`/webhooks/…`) carry
 * messenger input and are scrubbed instead (a contact's bytes never drop a message).
 */
export function registerInputGuard(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/webhooks/')) route.config = { ...(route.config ?? {}), providerInput: true };
  });
  app.addHook('preValidation', async (req: FastifyRequest) => {
    refuseHostile('params', req.params);
    refuseHostile('querystring', req.query);
    refuseHostile('headers', req.headers);
    if (req.body === undefined || req.body === null) return;
    if (valueTooDeep(req.body)) throw tooDeepError();
    if (req.routeOptions.config?.providerInput) req.body = scrubDeep(req.body);
    else refuseHostile('body', req.body);
  });
}
