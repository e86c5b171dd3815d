// The event bus port: committed events fan out to WebSockets, webhooks, MCP and metrics.
import type { GatewayEvent } from '../domain/model.js';

export type EventListener = (event: GatewayEvent) => void;

export interface EventBus {
  /** Publishes events that are already committed to the log. */
  publish(events: readonly GatewayEvent[]): void;
  subscribe(listener: EventListener): () => void;
  /**
   * Cluster mode: `subscribe` sees every replica's events, this only the ones committed by this process (use it
   * for per-process counts and side effects). Absent on a single-process bus, where `subscribe` is the same.
   */
  subscribeLocal?(listener: EventListener): () => void;
}
