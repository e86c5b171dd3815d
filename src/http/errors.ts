// The one error handler: coded errors, validation failures and everything else become the standard body.
import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_CODES, type ErrorCode, SbError } from '../domain/errors.js';
import { mapDriverError } from '../storage/sql.js';

export function errorPayload(code: ErrorCode, message: string, details: unknown = null) {
  return { error: { code, message, details } };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((thrown: FastifyError | SbError | Error, req, reply) => {
    // A lost or refused database connection that reached here unwrapped is still a 503, never a 500.
    const err = mapDriverError(thrown) as FastifyError | SbError | Error;
    if (err instanceof SbError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      if (err.status >= 500) req.log.error({ err }, err.message);
      return reply.status(err.status).send(errorPayload(err.code, err.message, err.details));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = (err as { validationContext?: string }).validationContext ?? 'request';
      const details = err.validation.map((v) => ({
        in: where,
        path: v.instancePath.replace(/^\//, '').replaceAll('/', '.') || where,
        message: v.message,
      }));
      const summary = details.map((d) => `${d.path}: ${d.message}`).join('; ');
      return reply
        .status(400)
        .send(errorPayload('SB_ERR_VALIDATION', `invalid ${where}: ${summary}`, details));
    }
    const fe = err as FastifyError;
    if (
      fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      (fe.statusCode === 400 && err instanceof SyntaxError)
    ) {
      return reply.status(400).send(errorPayload('SB_ERR_BAD_JSON', 'the request body is not valid JSON'));
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // Names the limit and the setting that raises it (a route may declare its own, e.g. MEDIA_MAX_BYTES).
      const limit = req.routeOptions.bodyLimit;
      const setting =
        (req.routeOptions.config as { bodyLimitSetting?: string } | undefined)?.bodyLimitSetting ??
        'BODY_LIMIT_BYTES';
      return reply
        .status(413)
        .send(
          errorPayload(
            'SB_ERR_PAYLOAD_TOO_LARGE',
            `the request body is larger than this route's limit of ${limit} bytes; raise ${setting} to accept more`,
            { limit_bytes: limit, setting },
          ),
        );
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply
        .status(415)
        .send(errorPayload('SB_ERR_VALIDATION', 'unsupported content type; send application/json'));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply
        .status(fe.statusCode)
        .send(errorPayload(fe.statusCode === 429 ? 'SB_ERR_RATE_LIMITED' : 'SB_ERR_VALIDATION', fe.message));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send(errorPayload('SB_ERR_INTERNAL', ERROR_CODES.SB_ERR_INTERNAL.meaning));
  });

  app.setNotFoundHandler((req, reply) => {
    reply
      .status(404)
      .send(errorPayload('SB_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
}
