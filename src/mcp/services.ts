// The services the MCP server and its approvals use, named one by one (the composition root passes them in).
import type { Config } from '../config/index.js';
import type { InstanceService } from '../core/instances.js';
import type { MessagingService } from '../core/messaging.js';
import type { SessionSupervisor } from '../core/supervisor.js';
import type { Logger } from '../logger.js';
import type { OutboundFetch } from '../ports/outbound.js';
import type { ProviderRegistry } from '../ports/provider.js';
import type { Store } from '../ports/store.js';

/** What an MCP server of one instance needs; `outbound` defaults to a guarded fetch built from `config.outbound`. */
export interface McpServices {
  store: Store;
  instances: InstanceService;
  messaging: MessagingService;
  providers: ProviderRegistry;
  supervisor: SessionSupervisor;
  config: Pick<Readonly<Config>, 'adminApiKey' | 'outbound'>;
  logger: Logger;
  /** The one guarded fetch for media URLs (a guarded fetch of its own when absent). */
  outbound?: OutboundFetch;
}
