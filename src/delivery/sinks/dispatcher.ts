// Sends claimed sink deliveries: one cached broker connection per sink, the webhook's body and signature headers.
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { ClaimedDelivery, WebhookEndpoint } from '../../ports/deliveries.js';
import type { ProviderLogger } from '../../ports/provider.js';
import { signedHeaders } from '../webhooks/signer.js';
import type { Outcome } from '../webhooks/worker.js';
import type { BrokerGuard } from './guard.js';
import type { SinkPublisher } from './publisher.js';
import {
  amqpConnectUrl,
  type NatsTarget,
  parseCredentials,
  type RabbitTarget,
  renderTemplate,
  scrub,
  secretsOf,
} from './spec.js';

/** Per-sink publish outcomes, for metrics. */
export interface SinkObserver {
  onPublish(sink: WebhookEndpoint, ok: boolean, seconds: number): void;
  onConnections(kind: string, delta: number): void;
}

export interface SinkDispatcherOptions {
  guard: BrokerGuard;
  /** Time limit for a connect and for a confirm, in ms (WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  logger: ProviderLogger;
  clock?: Clock;
  observer?: SinkObserver;
  /** A connection unused this long is closed (default 5 minutes). */
  idleMs?: number;
  /** Opens a publisher (tests); default: amqplib, nats.js or mqtt.js by kind. */
  open?: (ep: WebhookEndpoint) => Promise<SinkPublisher>;
}

interface Entry {
  kind: string;
  version: string;
  publisher: Promise<SinkPublisher>;
  lastUsed: number;
}

/** The dispatcher the outbox worker calls for sink kinds; `close()` ends every broker connection. */
export interface SinkDispatcher {
  dispatch(c: ClaimedDelivery): Promise<Outcome>;
  /** Sinks with a cached connection (open or opening). */
  readonly connections: number;
  /** Closes a sink's connection now (the sink was changed or deleted). */
  forget(sinkId: string): void;
  close(): Promise<void>;
}

export function createSinkDispatcher(o: SinkDispatcherOptions): SinkDispatcher {
  const clock = o.clock ?? systemClock;
  const idleMs = o.idleMs ?? 300_000;
  const cache = new Map<string, Entry>();

  const open =
    o.open ??
    // Each broker client is loaded on its first sink (import() is cached): a gateway without sinks never loads
    // amqplib, mqtt or the NATS client, which keeps their start-up time and memory out of every other process.
    (async (ep: WebhookEndpoint): Promise<SinkPublisher> => {
      const name = `switchboard-sink-${ep.id}`;
      if (ep.kind === 'rabbitmq') {
        const { openAmqpPublisher } = await import('./amqp-publisher.js');
        return openAmqpPublisher({
          url: amqpConnectUrl(ep),
          target: ep.options as unknown as RabbitTarget,
          guard: o.guard,
          timeoutMs: o.timeoutMs,
          logger: o.logger,
          name,
          secrets: secretsOf(ep),
        });
      }
      if (ep.kind === 'mqtt') {
        const { openMqttPublisher } = await import('./mqtt-publisher.js');
        return openMqttPublisher({
          url: ep.url,
          credentials: parseCredentials(ep),
          guard: o.guard,
          timeoutMs: o.timeoutMs,
          logger: o.logger,
          name,
          secrets: secretsOf(ep),
        });
      }
      const { openNatsPublisher } = await import('./nats-publisher.js');
      return openNatsPublisher({
        target: ep.options as unknown as NatsTarget,
        credentials: parseCredentials(ep),
        guard: o.guard,
        timeoutMs: o.timeoutMs,
        logger: o.logger,
        name,
        secrets: secretsOf(ep),
      });
    });

  const drop = (id: string, e: Entry) => {
    if (cache.get(id) !== e) return;
    cache.delete(id);
    e.publisher.then(
      (p) => {
        o.observer?.onConnections(e.kind, -1);
        return p.close();
      },
      // A connection that never opened has nothing to close; its failure went to the delivery that awaited it.
      () => undefined,
    );
  };

  /** The sink's publisher: cached while usable and unchanged (a change of the sink opens a new connection). */
  async function publisherFor(ep: WebhookEndpoint): Promise<SinkPublisher> {
    const now = clock.now().getTime();
    const version = ep.updated_at;
    const hit = cache.get(ep.id);
    if (hit && hit.version === version) {
      // A failed open is replaced below (its error went to the delivery that awaited it).
      const p = await hit.publisher.catch(() => null);
      if (p?.usable) {
        hit.lastUsed = now;
        return p;
      }
      drop(ep.id, hit);
    } else if (hit) drop(ep.id, hit);
    const again = cache.get(ep.id);
    if (again && again.version === version) return again.publisher;
    const entry: Entry = { kind: ep.kind, version, publisher: open(ep), lastUsed: now };
    cache.set(ep.id, entry);
    entry.publisher.then(
      () => o.observer?.onConnections(ep.kind, 1),
      () => {
        if (cache.get(ep.id) === entry) cache.delete(ep.id);
      },
    );
    return entry.publisher;
  }

  const sweep = setInterval(
    () => {
      const limit = clock.now().getTime() - idleMs;
      for (const [id, e] of cache) if (e.lastUsed < limit) drop(id, e);
    },
    Math.min(idleMs, 60_000),
  );
  sweep.unref();

  return {
    async dispatch(c: ClaimedDelivery): Promise<Outcome> {
      const ep = c.endpoint;
      const started = process.hrtime.bigint();
      const now = clock.now();
      const body = JSON.stringify(c.event);
      const secrets = [ep.secret ?? ''];
      if (
        ep.previous_secret &&
        ep.previous_expires_at &&
        Date.parse(ep.previous_expires_at) > now.getTime()
      ) {
        secrets.push(ep.previous_secret);
      }
      const target = ep.options as { routing_key?: string; subject?: string; topic?: string };
      const template = String(target.routing_key ?? target.subject ?? target.topic);
      let outcome: Outcome;
      try {
        const publisher = await publisherFor(ep);
        const note = await publisher.publish({
          id: String(c.event.id),
          subject: renderTemplate(template, c.event),
          body: Buffer.from(body),
          headers: {
            'content-type': 'application/json',
            ...signedHeaders(secrets, String(c.event.id), now, body),
          },
        });
        outcome = { ok: true, code: null, error: null, excerpt: note };
      } catch (err) {
        const raw = err instanceof Error ? err.message : String(err);
        // Broker errors never carry our secrets into the delivery log or the logs.
        outcome = {
          ok: false,
          code: null,
          error: scrub(raw, secretsOf(ep)) || 'publish failed',
          excerpt: null,
        };
      }
      o.observer?.onPublish(ep, outcome.ok, Number(process.hrtime.bigint() - started) / 1e9);
      return outcome;
    },
    get connections() {
      return cache.size;
    },
    forget(sinkId: string) {
      const e = cache.get(sinkId);
      if (e) drop(sinkId, e);
    },
    async close() {
      clearInterval(sweep);
      const all = [...cache.values()];
      cache.clear();
      await Promise.all(
        all.map((e) =>
          e.publisher.then(
            (p) => p.close(),
            // Never opened: nothing to close (the failure went to the delivery that awaited it).
            () => undefined,
          ),
        ),
      );
    },
  };
}
