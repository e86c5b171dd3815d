// The services a route plugin may ask for, by name: each plugin takes `Pick<HttpServices, …>` as its options.

import type { Config } from '../config/index.js';
import type { CompanySessionService } from '../core/company-sessions.js';
import type { InstanceService } from '../core/instances.js';
import type { CredentialService } from '../core/keys.js';
import type { MessagingService } from '../core/messaging.js';
import type { PoolService } from '../core/pool.js';
import type { SessionSupervisor } from '../core/supervisor.js';
import type { UserService } from '../core/users.js';
import type { DeliveryRuntime } from '../delivery/webhooks/runtime.js';
import type { EventBus } from '../ports/event-bus.js';
import type { IdentityStore } from '../ports/identities.js';
import type { OutboundFetch } from '../ports/outbound.js';
import type { ProviderRegistry } from '../ports/provider.js';
import type { Store } from '../ports/store.js';
import type { ClusterRuntime } from '../runtime/cluster.js';
import type { StreamRegistry } from './event-socket.js';

/**
 * Everything the composition root (src/app.ts) can hand a route plugin. A plugin names the few it uses in its
 * options type (`FastifyPluginAsyncZod<Pick<HttpServices, 'messaging' | 'config'>>`), so its signature shows its
 * dependencies; no route imports the gateway.
 */
export interface HttpServices {
  /** The frozen configuration (read-only). */
  config: Readonly<Config>;
  store: Store;
  bus: EventBus;
  providers: ProviderRegistry;
  supervisor: SessionSupervisor;
  instances: InstanceService;
  messaging: MessagingService;
  credentials: CredentialService;
  users: UserService;
  pool: PoolService;
  companySessions: CompanySessionService;
  /** `null` only in hand-built test graphs. */
  cluster: ClusterRuntime | null;
  /** Absent only in hand-built test graphs. */
  delivery: DeliveryRuntime | undefined;
  outbound: OutboundFetch;
  identities: IdentityStore;
  /** The one registry of live event streams (WebSocket, SSE, MCP) of this gateway. */
  streams: StreamRegistry;
  /** True once a graceful shutdown began (health reports 503). */
  isShuttingDown: () => boolean;
}
