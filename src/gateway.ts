// The gateway's object graph: store, bus, providers, supervisor and services wired together (no listening).

import QRCode from 'qrcode';
import type { Config } from './config/index.js';
import { CompanySessionService } from './core/company-sessions.js';
import { InstanceService } from './core/instances.js';
import { CredentialService, ensureAdminKey, KeyResolver } from './core/keys.js';
import { MessagingService } from './core/messaging.js';
import { PoolService } from './core/pool.js';
import { sendRateGuard } from './core/rate-limit.js';
import { ForwardingSupervisor } from './core/session-forwarding.js';
import { LocalSupervisor, type SessionSupervisor } from './core/supervisor.js';
import { UserService } from './core/users.js';
import { type DeliveryRuntime, startDelivery } from './delivery/webhooks/runtime.js';
import { endpointSync } from './delivery/webhooks/service.js';
import type { Logger } from './logger.js';
import type { EventBus } from './ports/event-bus.js';
import type { IdentityStore } from './ports/identities.js';
import type { OutboundFetch } from './ports/outbound.js';
import type { ProviderRegistry } from './ports/provider.js';
import type { Store } from './ports/store.js';
import { createProviderRegistry, type RegistryOptions } from './providers/registry.js';
import { type ClusterRuntime, createClusterRuntime } from './runtime/cluster.js';
import { createGuardedFetch } from './runtime/outbound/guarded-fetch.js';
import { createRateLimiterFactory, type RateLimiterFactory } from './runtime/rate-limiter.js';
import { openFileSpool } from './runtime/spool/file-spool.js';

export interface Gateway {
  config: Readonly<Config>;
  logger: Logger;
  store: Store;
  bus: EventBus;
  providers: ProviderRegistry;
  supervisor: SessionSupervisor;
  instances: InstanceService;
  messaging: MessagingService;
  keys: KeyResolver;
  /** The one issuer of credentials; announces revocations to every replica (closes sockets). */
  credentials: CredentialService;
  /** Users and their sign-in tokens (issue 5). */
  users: UserService;
  /** Warm pool of instances for "Connect my WhatsApp" (seed 004). */
  pool: PoolService;
  /** The company session API (seed 003). */
  companySessions: CompanySessionService;
  /** Rate limiters (Redis when REDIS_URL is set, with an in-memory insurance limiter). */
  limiters: RateLimiterFactory;
  /** Leases, forwarded commands, shared events (always present; `null` only in hand-built test graphs). Started by `serve`. */
  cluster: ClusterRuntime | null;
  /** Durable delivery (issue 4): outbox worker, webhook endpoints service, metrics registry. */
  delivery?: DeliveryRuntime;
  /** The one guarded fetch for every request to a URL a user gave us (issue 14). */
  outbound: OutboundFetch;
  /** WhatsApp LID ↔ phone identities per instance (issue 18). */
  identities: IdentityStore;
  shuttingDown: boolean;
  /** Hooks run at shutdown after sessions are closed (workers, timers). */
  onClose: Array<() => Promise<void> | void>;
}

export interface GatewayOptions extends RegistryOptions {
  providers?: ProviderRegistry;
}

/** Wires the services over an open store. Callers own the store's lifecycle. */
export function createGateway(
  config: Readonly<Config>,
  store: Store,
  logger: Logger,
  opts: GatewayOptions = {},
): Gateway {
  // Leases always (issue 15): every process takes a session's lease before running it, whatever CLUSTER_MODE says.
  const cluster = createClusterRuntime(config, store, logger);
  const bus = cluster.bus;
  const outbound =
    opts.outbound ??
    createGuardedFetch({
      allowPrivate: config.outbound.allowPrivate,
      timeoutMs: config.outbound.timeoutMs,
      maxRedirects: config.outbound.maxRedirects,
      // Webhook POSTs to the same receivers reuse connections (a new one still passes the connect-time check).
      keepAlive: true,
    });
  const identities = opts.identities ?? store.identities;
  const providers =
    opts.providers ??
    createProviderRegistry(config, {
      store,
      leases: cluster.leases,
      history: store.history,
      ...opts,
      outbound,
      identities,
    });
  const keys = new KeyResolver(store, config.adminApiKey, Date.now, (obj, msg) => logger.warn(obj, msg));
  const credentials = new CredentialService({ store, bus, resolver: keys });
  const limiters = createRateLimiterFactory({
    redisUrl: config.rateLimit.redisUrl,
    keyPrefix: `switchboard:${config.database.schema}:rl`,
    logger,
  });
  // Inbound messages that cannot be committed while the database is down wait here (fsynced) for replay.
  const spool = openFileSpool({
    ...config.spool,
    onCorrupt: (file, line) => logger.warn({ file, line }, 'unreadable inbound spool line skipped'),
  });
  let delivery: DeliveryRuntime | undefined;
  const local = new LocalSupervisor({
    store,
    bus,
    providers,
    logger,
    leases: cluster.leases,
    spool,
    spoolObserver: { onSpool: (result) => delivery?.metrics.onSpool(result) },
    identities,
  });
  // Every gateway has a forwarder (the lease runtime's): a command for a session another replica runs goes there.
  // A graph built without one (some tests) uses the local supervisor alone.
  const supervisor: SessionSupervisor = new ForwardingSupervisor(local, {
    forwarder: cluster.forwarder,
    leases: cluster.leases,
  });
  const instances = new InstanceService({
    store,
    bus,
    providers,
    supervisor,
    keys,
    credentials,
    maxInstancesPerCompany: config.quotas.instancesPerCompany,
    configSync: endpointSync({ allowPrivate: config.webhooks.allowPrivate }),
  });
  const sendLimiter = limiters.create({
    name: 'send',
    points: config.rateLimit.max,
    windowMs: config.rateLimit.windowMs,
  });
  const messaging = new MessagingService({
    store,
    bus,
    providers,
    supervisor,
    instances,
    guards: [sendRateGuard(sendLimiter)],
    identities,
  });
  const loginLimit = { points: config.auth.loginMax, windowMs: config.auth.loginWindowMs };
  const users = new UserService({
    store,
    jwtSecret: config.auth.jwtSecret,
    ttlSeconds: config.auth.jwtTtlSeconds,
    loginLimits: {
      perEmail: limiters.create({ name: 'login-email', ...loginLimit }),
      perAddress: limiters.create({
        name: 'login-addr',
        points: loginLimit.points * 5,
        windowMs: loginLimit.windowMs,
      }),
    },
  });
  const pool = new PoolService({
    store,
    bus,
    supervisor,
    providers,
    logger,
    options: config.pool,
    renderQr: (qr) => QRCode.toDataURL(qr, { margin: 2, scale: 6 }),
    keys,
    credentials,
  });
  const companySessions = new CompanySessionService({
    store,
    bus,
    supervisor,
    providers,
    messaging,
    provider: config.sessionProvider,
  });
  delivery = startDelivery({ config, store, bus, logger, messaging, outbound });
  delivery.metrics.spoolStats = () => ({ pending: spool.pending, bytes: spool.bytes });
  return {
    config,
    logger,
    store,
    bus,
    providers,
    supervisor,
    instances,
    messaging,
    keys,
    credentials,
    users,
    pool,
    companySessions,
    limiters,
    cluster,
    delivery,
    outbound,
    identities,
    shuttingDown: false,
    onClose: [
      () => supervisor.inbound.stop(),
      () => delivery.stop(),
      () => cluster.stop(),
      () => pool.close(),
      () => companySessions.close(),
      () => limiters.close(),
      () => credentials.close(),
    ],
  };
}

/** First-start chores: an admin key if none exists (returned once, for printing). */
export async function prepareGateway(gw: Gateway): Promise<{ adminKey: string | null }> {
  // Messages an earlier run acknowledged but could not store are stored first, in their order.
  await gw.supervisor.inbound.start();
  const adminKey = await ensureAdminKey(gw.store, gw.config.adminApiKey);
  // The deployment-wide event sink (EVENT_SINK_DEFAULT) follows the configuration of this start.
  if (gw.delivery) await gw.delivery.sinks.syncDeploymentDefault(gw.config.webhooks.defaultSink ?? null);
  // The warm pool fills in the background (seed 004): free instances start and wait with a QR.
  if (gw.pool.enabled) void gw.pool.fill().catch((err) => gw.logger.warn({ err }, 'pool fill failed'));
  return { adminKey };
}

/** Graceful stop: refuse new work, close sessions without logging out, run close hooks. */
export async function shutdownGateway(gw: Gateway): Promise<void> {
  gw.shuttingDown = true;
  gw.cluster?.stopClaiming();
  await gw.supervisor.shutdown();
  for (const fn of gw.onClose) await fn();
}
