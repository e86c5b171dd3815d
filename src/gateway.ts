// The gateway's object graph: store, bus, providers, supervisor and services wired together (no listening).
import type { Config } from './config/index.js';
import { MemoryEventBus } from './core/event-bus-memory.js';
import { InstanceService } from './core/instances.js';
import { ensureAdminKey, KeyResolver } from './core/keys.js';
import { MessagingService } from './core/messaging.js';
import { SessionSupervisor } from './core/supervisor.js';
import type { Logger } from './logger.js';
import type { EventBus } from './ports/event-bus.js';
import type { ProviderRegistry } from './ports/provider.js';
import type { Store } from './ports/store.js';
import { createProviderRegistry, type RegistryOptions } from './providers/registry.js';

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
  const bus = new MemoryEventBus((err) => logger.error({ err }, 'event listener failed'));
  const providers = opts.providers ?? createProviderRegistry(config, opts);
  const keys = new KeyResolver(store, config.adminApiKey);
  const supervisor = new SessionSupervisor({ store, bus, providers, logger });
  const instances = new InstanceService({ store, bus, providers, supervisor, keys });
  const messaging = new MessagingService({ store, bus, providers, supervisor, instances });
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
    shuttingDown: false,
    onClose: [],
  };
}

/** First-start chores: an admin key if none exists (returned once, for printing). */
export async function prepareGateway(gw: Gateway): Promise<{ adminKey: string | null }> {
  return { adminKey: await ensureAdminKey(gw.store, gw.config.adminApiKey) };
}

/** Graceful stop: refuse new work, close sessions without logging out, run close hooks. */
export async function shutdownGateway(gw: Gateway): Promise<void> {
  gw.shuttingDown = true;
  await gw.supervisor.shutdown();
  for (const fn of gw.onClose) await fn();
}
