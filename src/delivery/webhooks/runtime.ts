// Wires durable delivery into a gateway: metrics, the outbox worker (webhooks + agent bridge), the endpoint service
// and the retention job.
import type { Config } from '../../config/index.js';
import type { MessagingService } from '../../core/messaging.js';
import type { Logger } from '../../logger.js';
import type { EventBus } from '../../ports/event-bus.js';
import type { OutboundFetch } from '../../ports/outbound.js';
import type { Store } from '../../ports/store.js';
import { RetentionJob } from '../../runtime/retention-job.js';
import { createAgentDispatcher } from '../agent-bridge/agent-dispatcher.js';
import { GatewayMetrics } from '../metrics.js';
import { createSinkDispatcher, type SinkDispatcher } from '../sinks/dispatcher.js';
import { SinkMetrics } from '../sinks/metrics.js';
import { SinkService } from '../sinks/service.js';
import { postRequest } from './http-post.js';
import { WebhookService } from './service.js';
import { DeliveryWorker } from './worker.js';

export interface DeliveryRuntime {
  metrics: GatewayMetrics;
  worker: DeliveryWorker;
  webhooks: WebhookService;
  /** Event sinks (RabbitMQ, NATS JetStream): the API service and the broker connections. */
  sinks: SinkService;
  sinkDispatcher: SinkDispatcher;
  /** Deletes old events, deliveries, pending acks and cached media (RETENTION_*). */
  retention: RetentionJob;
  stop(): Promise<void>;
}

/** What the delivery runtime uses; `outbound` defaults to each sender's own guarded fetch. */
export interface DeliveryDeps {
  config: Pick<Readonly<Config>, 'webhooks' | 'retention'>;
  store: Store;
  bus: EventBus;
  logger: Logger;
  messaging: Pick<MessagingService, 'send'>;
  outbound?: OutboundFetch;
}

const AGENT_PRINCIPAL = { kind: 'admin', keyId: null } as const;

/** Creates and starts the delivery runtime of a gateway (call once; stop it at shutdown). */
export function startDelivery(deps: DeliveryDeps): DeliveryRuntime {
  const settings = deps.config.webhooks;
  const metrics = new GatewayMetrics({ store: deps.store, bus: deps.bus });
  const agent = createAgentDispatcher({
    timeoutMs: settings.timeoutMs,
    allowPrivate: settings.allowPrivate,
    outbound: deps.outbound,
    hasReply: async (instanceId, key) =>
      (await deps.store.messages.getByIdempotencyKey(instanceId, key)) !== null,
    sendReply: async (instanceId, chatId, text, key) => {
      await deps.messaging.send(AGENT_PRINCIPAL, instanceId, { to: chatId, text }, key);
    },
  });
  const sinkDispatcher = createSinkDispatcher({
    guard: { allowPrivate: settings.allowPrivate },
    timeoutMs: settings.timeoutMs,
    logger: deps.logger,
    observer: new SinkMetrics(metrics.registry),
  });
  const worker = new DeliveryWorker({
    store: deps.store,
    bus: deps.bus,
    logger: deps.logger,
    settings,
    agent,
    sinks: (c) => sinkDispatcher.dispatch(c),
    observer: metrics,
    // Every POST goes through the gateway's guarded fetch (connect-time address check, kept-alive connections);
    // without one, through the worker's own keep-alive guarded fetch.
    post: (url, body, headers, opts) =>
      postRequest(url, body, headers, { ...opts, outbound: deps.outbound ?? opts.outbound }),
  });
  const webhooks = new WebhookService(deps.store, {
    allowPrivate: settings.allowPrivate,
    wake: () => worker.wake(),
  });
  const sinks = new SinkService(deps.store, {
    guard: { allowPrivate: settings.allowPrivate },
    wake: () => worker.wake(),
    changed: (id) => sinkDispatcher.forget(id),
  });
  worker.start();
  const retention = new RetentionJob({
    store: deps.store,
    settings: deps.config.retention,
    logger: deps.logger,
  });
  retention.start();
  return {
    metrics,
    worker,
    webhooks,
    sinks,
    sinkDispatcher,
    retention,
    async stop() {
      await Promise.all([worker.stop(), retention.stop()]);
      await sinkDispatcher.close();
      metrics.stop();
    },
  };
}
