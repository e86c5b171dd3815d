// What the cluster event buses share: the two listener sets (every replica's events, this replica's) and a fan-out
// in which a throwing listener never hurts the others.
import type { GatewayEvent } from '../domain/model.js';
import type { EventBus, EventListener } from '../ports/event-bus.js';

/**
 * Base of a cluster bus: `subscribe` listeners (`all`) get every replica's events, `subscribeLocal` listeners
 * (`local`) only this replica's. A subclass decides in `publish` how events reach each set.
 */
export abstract class ClusterEventBus implements EventBus {
  protected readonly all = new Set<EventListener>();
  protected readonly local = new Set<EventListener>();

  constructor(protected readonly onError: (err: unknown, what: string) => void) {}

  abstract publish(events: readonly GatewayEvent[]): void;

  subscribe(listener: EventListener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  subscribeLocal(listener: EventListener): () => void {
    this.local.add(listener);
    return () => this.local.delete(listener);
  }

  /** Calls every listener of `listeners` with each event in order; a listener that throws is reported and skipped. */
  protected deliver(listeners: Set<EventListener>, events: readonly GatewayEvent[]): void {
    for (const e of events) {
      for (const l of listeners) {
        try {
          l(e);
        } catch (err) {
          this.onError(err, 'event listener failed');
        }
      }
    }
  }
}
