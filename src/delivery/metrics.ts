// Prometheus metrics (prom-client): one registry per gateway, fed by the event bus, the outbox worker and HTTP.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { SbError } from '../domain/errors.js';
import type { GatewayEvent } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Store } from '../ports/store.js';
import { DeliveryRepo } from './webhooks/repo.js';
import type { DeliveryObserver, DeliveryResult } from './webhooks/worker.js';

/** The gateway's metrics; `registry.metrics()` renders the Prometheus text format. */
export class GatewayMetrics implements DeliveryObserver {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly messages: Counter<'direction'>;
  private readonly events: Counter<'type'>;
  private readonly deliveries: Counter<'kind' | 'result'>;
  private readonly lag: Histogram<'kind'>;
  private readonly reconnects: Counter;
  private readonly lastInbound: Gauge<'instance_id'>;
  private readonly spooled: Counter<'result'>;
  /** Reads the inbound spool's size (set by the gateway when it has a spool). */
  spoolStats: (() => { pending: number; bytes: number }) | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(deps: { store: Store; bus: EventBus; defaults?: boolean }) {
    const registers = [this.registry];
    if (deps.defaults !== false) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
    const store = deps.store;
    new Gauge({
      name: 'switchboard_sessions',
      help: 'Instances by provider, lifecycle status and login status.',
      labelNames: ['provider', 'status', 'auth_status'],
      registers,
      async collect() {
        this.reset();
        // During a database outage the scrape still answers (spool counters matter most then); /ready reports it.
        const rows = await store.metricsQueries.sessionCounts().catch(unavailableAsEmpty);
        for (const r of rows)
          this.set({ provider: r.provider, status: r.status, auth_status: r.auth_status }, Number(r.n));
      },
    });
    new Gauge({
      name: 'switchboard_outbox_depth',
      help: 'Webhook, agent and event sink deliveries waiting in the outbox (pending).',
      registers,
      async collect() {
        const depth = await new DeliveryRepo(store).depth().catch(unavailableAsEmpty);
        if (typeof depth === 'number') this.set(depth);
      },
    });
    this.messages = new Counter({
      name: 'switchboard_messages_total',
      help: 'Messages stored, by direction (in = received, out = sent by us).',
      labelNames: ['direction'],
      registers,
    });
    this.events = new Counter({
      name: 'switchboard_events_total',
      help: 'Events written to the event log (as published by this process), by type.',
      labelNames: ['type'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'switchboard_webhook_deliveries_total',
      help: 'Delivery attempts by endpoint kind (webhook, agent, rabbitmq, nats) and result (delivered, retry, failed, disabled).',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.lag = new Histogram({
      name: 'switchboard_webhook_delivery_lag_seconds',
      help: 'Time from event commit to successful delivery.',
      labelNames: ['kind'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000],
      registers,
    });
    this.reconnects = new Counter({
      name: 'switchboard_reconnects_total',
      help: 'Session reconnects (transitions to auth_status reconnecting).',
      registers,
    });
    this.lastInbound = new Gauge({
      name: 'switchboard_instance_last_inbound_timestamp_seconds',
      help: 'Unix time of the last inbound message per instance (alert on connected-but-silent sessions).',
      labelNames: ['instance_id'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'switchboard_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.spooled = new Counter({
      name: 'switchboard_inbound_spool_messages_total',
      help: 'Inbound messages that needed the disk spool (database down), by result: spooled, replayed, dropped.',
      labelNames: ['result'],
      registers,
    });
    const spool = () => this.spoolStats?.() ?? { pending: 0, bytes: 0 };
    new Gauge({
      name: 'switchboard_inbound_spool_pending',
      help: 'Inbound messages waiting in the disk spool for the database.',
      registers,
      collect() {
        this.set(spool().pending);
      },
    });
    new Gauge({
      name: 'switchboard_inbound_spool_bytes',
      help: 'Bytes the inbound disk spool holds (see SPOOL_MAX_BYTES).',
      registers,
      collect() {
        this.set(spool().bytes);
      },
    });
    // This replica's own events only, so counters are not multiplied by the number of replicas.
    this.unsubscribe = (deps.bus.subscribeLocal ?? deps.bus.subscribe).call(deps.bus, (e) => this.onEvent(e));
  }

  private onEvent(e: GatewayEvent): void {
    this.events.inc({ type: e.type });
    if (e.type === 'message') {
      const m = e.data.message as { is_from_me?: boolean } | undefined;
      if (!m) return;
      this.messages.inc({ direction: m.is_from_me ? 'out' : 'in' });
      if (!m.is_from_me && e.instance_id)
        this.lastInbound.set({ instance_id: e.instance_id }, Date.now() / 1000);
    } else if (e.type === 'instance.status' && e.data.auth_status === 'reconnecting') {
      this.reconnects.inc();
    } else if (e.type === 'instance.deleted' && e.instance_id) {
      this.lastInbound.remove({ instance_id: e.instance_id });
    }
  }

  onSpool(result: 'spooled' | 'replayed' | 'dropped'): void {
    this.spooled.inc({ result });
  }

  onResult(kind: string, result: DeliveryResult, lagMs: number | null): void {
    this.deliveries.inc({ kind, result });
    if (lagMs !== null) this.lag.observe({ kind }, Math.max(0, lagMs) / 1000);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}

/** A gauge query that failed because the database is unreachable leaves the gauge empty; other errors propagate. */
function unavailableAsEmpty(err: unknown): never[] {
  if (err instanceof SbError && err.code === 'SB_ERR_UNAVAILABLE') return [];
  throw err;
}
