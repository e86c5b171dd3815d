// Per-sink Prometheus metrics (prom-client), registered in the gateway's registry beside the delivery counters.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WebhookEndpoint } from '../../ports/deliveries.js';
import type { SinkObserver } from './dispatcher.js';

/**
 * `switchboard_sink_publishes_total{sink_id,kind,result}` (result: confirmed, failed),
 * `switchboard_sink_publish_seconds{kind}` (publish → broker confirm, connect included) and
 * `switchboard_sink_connections{kind}` (open broker connections in this process).
 */
export class SinkMetrics implements SinkObserver {
  private readonly publishes: Counter<'sink_id' | 'kind' | 'result'>;
  private readonly seconds: Histogram<'kind'>;
  private readonly connections: Gauge<'kind'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.publishes = new Counter({
      name: 'switchboard_sink_publishes_total',
      help: 'Event sink publishes by sink, kind (rabbitmq, nats, mqtt) and result (confirmed, failed).',
      labelNames: ['sink_id', 'kind', 'result'],
      registers,
    });
    this.seconds = new Histogram({
      name: 'switchboard_sink_publish_seconds',
      help: 'Time from publish to the broker confirm (AMQP confirm, JetStream PubAck, MQTT PUBACK), connecting included.',
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 15],
      registers,
    });
    this.connections = new Gauge({
      name: 'switchboard_sink_connections',
      help: 'Open event sink broker connections in this process, by kind.',
      labelNames: ['kind'],
      registers,
    });
  }

  onPublish(sink: WebhookEndpoint, ok: boolean, seconds: number): void {
    this.publishes.inc({ sink_id: sink.id, kind: sink.kind, result: ok ? 'confirmed' : 'failed' });
    if (ok) this.seconds.observe({ kind: sink.kind }, seconds);
  }

  onConnections(kind: string, delta: number): void {
    this.connections.inc({ kind }, delta);
  }
}
