// buildApp(gateway): the Fastify application with every route and plugin — never listens; tests use inject().
import { createServer } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { SbError } from './domain/errors.js';
import { jsonTooDeep } from './domain/text.js';
import type { Gateway } from './gateway.js';
import { type PrincipalResolver, registerAuth } from './http/auth.js';
import { registerErrorHandling } from './http/errors.js';
import { streamRegistry } from './http/event-socket.js';
import { registerInputGuard, tooDeepError } from './http/input-guard.js';
import { openApiTransform, openApiTransformObject } from './http/openapi/transform.js';
import { authUserRoutes, userTokenResolver } from './http/routes/auth-users.js';
import { clusterRoutes } from './http/routes/cluster.js';
import { companyRoutes } from './http/routes/companies.js';
import { companySessionRoutes } from './http/routes/company-sessions.js';
import { connectRoutes } from './http/routes/connect.js';
import { dashboardRoutes } from './http/routes/dashboard.js';
import { eventsHttpRoutes } from './http/routes/events-http.js';
import { eventsWsRoutes } from './http/routes/events-ws.js';
import { groupRoutes } from './http/routes/groups.js';
import { healthRoutes } from './http/routes/health.js';
import { identityRoutes } from './http/routes/identities.js';
import { instanceRoutes } from './http/routes/instances.js';
import { mcpRoutes } from './http/routes/mcp.js';
import { messageMediaRoutes } from './http/routes/message-media.js';
import { messageRoutes } from './http/routes/messages.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { pairingCodeRoutes } from './http/routes/pairing-code.js';
import { simulateRoutes } from './http/routes/simulate.js';
import { sinkRoutes } from './http/routes/sinks.js';
import { telegramWebhookRoutes } from './http/routes/telegram-webhooks.js';
import { wahaWebhookRoutes } from './http/routes/waha-webhooks.js';
import { webhookRoutes } from './http/routes/webhooks.js';

export interface BuildAppOptions {
  /** More ways to authenticate (e.g. user bearer tokens), tried after API keys. */
  extraResolvers?: PrincipalResolver[];
}

export async function buildApp(gw: Gateway, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: gw.logger as unknown as FastifyBaseLogger,
    bodyLimit: gw.config.http.bodyLimit,
    requestTimeout: gw.config.http.requestTimeoutMs,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    // Check request and header timeouts every second (Node's default is every 30 s), so a slow-loris client is cut
    // off close to HTTP_REQUEST_TIMEOUT_MS.
    serverFactory: (handler) =>
      createServer(
        {
          requestTimeout: gw.config.http.requestTimeoutMs,
          headersTimeout: gw.config.http.requestTimeoutMs,
          connectionsCheckingInterval: 1000,
        },
        handler,
      ),
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API; responses are serialised as-is (no runtime response validation).
  // With RESPONSE_VALIDATION=on (tests, fuzzing) every response is checked against its schema: a mismatch is a 500.
  app.setSerializerCompiler(
    gw.config.http.validateResponses ? serializerCompiler : () => (data) => JSON.stringify(data),
  );
  registerErrorHandling(app as unknown as FastifyInstance);
  // An empty JSON body (curl -XPOST -H 'content-type: application/json') means "no body", not an error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    // Refused before JSON.parse: nothing recursive (validation, JSON.stringify, jsonb) ever sees a hostile nest.
    if (jsonTooDeep(text)) return done(tooDeepError(), undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new SbError('SB_ERR_BAD_JSON', 'the request body is not valid JSON'), undefined);
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Switchboard API',
        version: '0.1.0',
        description: 'Multi-tenant messaging gateway: instances, sessions, messages, events.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
    transform: openApiTransform,
    transformObject: openApiTransformObject,
  });
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...(route.config ?? {}), public: true };
    // Public routes say so in the OpenAPI document (no security requirement).
    if ((route.config as { public?: boolean } | undefined)?.public && route.schema) {
      route.schema = { ...route.schema, security: [] } as typeof route.schema;
    }
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  // NUL bytes, lone surrogates and deep JSON in any params, query, header or body: a coded 400 on every route.
  registerInputGuard(app as unknown as FastifyInstance);

  registerAuth(app as unknown as FastifyInstance, [
    async (token) => gw.keys.resolve(token),
    userTokenResolver(gw.users),
    ...(opts.extraResolvers ?? []),
  ]);

  // Each route plugin gets the services it names in its options type, never the gateway (Fastify's own way).
  const streams = streamRegistry(gw);
  const { config, store, bus, providers, supervisor, instances, messaging, pool, identities, delivery } = gw;
  await app.register(metricsRoutes, { delivery });
  await app.register(healthRoutes, { store, supervisor, isShuttingDown: () => gw.shuttingDown });
  await app.register(companyRoutes, { store, credentials: gw.credentials });
  await app.register(instanceRoutes, { config, store, instances });
  await app.register(messageRoutes, { config, messaging });
  await app.register(simulateRoutes, { instances, supervisor });
  await app.register(telegramWebhookRoutes, { store, providers, supervisor });
  await app.register(wahaWebhookRoutes, { config, store, providers, supervisor, pool });
  await app.register(pairingCodeRoutes, { instances, supervisor });
  await app.register(messageMediaRoutes, { instances, messaging, supervisor });
  await app.register(eventsWsRoutes, { store, bus, instances, streams });
  await app.register(clusterRoutes, { cluster: gw.cluster, providers, supervisor });
  await app.register(eventsHttpRoutes, { store, instances });
  await app.register(mcpRoutes, {
    store,
    instances,
    messaging,
    providers,
    supervisor,
    config,
    logger: gw.logger,
    outbound: gw.outbound,
    streams,
  });
  await app.register(authUserRoutes, { users: gw.users });
  await app.register(companySessionRoutes, {
    store,
    bus,
    pool,
    companySessions: gw.companySessions,
    streams,
  });
  await app.register(connectRoutes, { store, pool });
  await app.register(webhookRoutes, { instances, delivery });
  await app.register(identityRoutes, { instances, identities });
  await app.register(groupRoutes, { instances, supervisor });
  await app.register(sinkRoutes, { delivery });
  // The web dashboard last: static files at `/`, so API routes always win.
  await app.register(dashboardRoutes, {});
  return app as unknown as FastifyInstance;
}
