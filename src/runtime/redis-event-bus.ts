// Cluster event bus over Redis pub/sub: local events fan out at once, other replicas' events arrive by channel.
import type { Redis } from 'ioredis';
import type { GatewayEvent } from '../domain/model.js';
import { ClusterEventBus } from './cluster-event-bus.js';

interface Envelope {
  /** Origin replica. */
  o: string;
  e: GatewayEvent[];
}

/**
 * `subscribe` sees every replica's committed events (WebSocket streams); `subscribeLocal` only this replica's
 * (metrics and other per-process side effects, so a cluster does not count an event N times).
 */
export class RedisEventBus extends ClusterEventBus {
  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly channel: string,
    private readonly replicaId: string,
    onError: (err: unknown, what: string) => void,
  ) {
    super(onError);
  }

  /** Subscribes to the channel; events from other replicas are delivered from then on. */
  async start(): Promise<void> {
    this.sub.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      let env: Envelope;
      try {
        env = JSON.parse(text) as Envelope;
      } catch (err) {
        this.onError(err, 'bad event envelope');
        return;
      }
      if (env.o === this.replicaId) return;
      this.deliver(this.all, env.e);
    });
    await this.sub.subscribe(this.channel);
  }

  publish(events: readonly GatewayEvent[]): void {
    if (events.length === 0) return;
    this.deliver(this.local, events);
    this.deliver(this.all, events);
    const env: Envelope = { o: this.replicaId, e: [...events] };
    this.pub.publish(this.channel, JSON.stringify(env)).catch((err) => this.onError(err, 'publish failed'));
  }
}
