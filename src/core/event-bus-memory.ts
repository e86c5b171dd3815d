// In-process event bus: fans committed events out to subscribers; a throwing subscriber never hurts others.
import type { GatewayEvent } from '../domain/model.js';
import type { EventBus, EventListener } from '../ports/event-bus.js';

export class MemoryEventBus implements EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  publish(events: readonly GatewayEvent[]): void {
    for (const e of events) {
      for (const l of this.listeners) {
        try {
          l(e);
        } catch (err) {
          this.onListenerError(err);
        }
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
