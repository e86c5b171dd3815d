// The event bus port: committed events fan out to WebSockets, webhooks, MCP and metrics.
import type { GatewayEvent } from '../domain/model.js';

export type EventListener = (event: GatewayEvent) => void;

export interface EventBus {
  /** Publishes events that are already committed to the log. */
  publish(events: readonly GatewayEvent[]): void;
  subscribe(listener: EventListener): () => void;
}
