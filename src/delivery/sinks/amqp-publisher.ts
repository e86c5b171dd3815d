// RabbitMQ publisher (amqplib): a confirm channel, mandatory publishes, and error listeners so a lost link never crashes.
import amqp from 'amqplib';
import type { ProviderLogger } from '../../ports/provider.js';
import { type BrokerGuard, connectGuard } from './guard.js';
import { type SinkMessage, type SinkPublisher, withTimeout } from './publisher.js';
import { type RabbitTarget, scrub } from './spec.js';

export interface AmqpPublisherOptions {
  /** Connect URL with credentials (never logged). */
  url: string;
  target: RabbitTarget;
  guard: BrokerGuard;
  /** Time limit for connecting and for each confirm, in ms. */
  timeoutMs: number;
  logger: ProviderLogger;
  /** Shown in the RabbitMQ management UI. */
  name: string;
  /** Secrets to scrub from broker error texts before they are logged. */
  secrets: readonly string[];
}

/**
 * Opens a connection and a confirm channel and declares the exchange (durable). Messages are published persistent
 * and mandatory: a message no queue is bound for comes back (basic.return) and counts as a failure, so "delivered"
 * means a queue holds it.
 */
export async function openAmqpPublisher(o: AmqpPublisherOptions): Promise<SinkPublisher> {
  const host = new URL(o.url).hostname;
  const clean = (err: Error | undefined) => (err ? scrub(err.message, o.secrets) : null);
  const connecting = amqp.connect(o.url, {
    ...connectGuard(host, o.guard),
    timeout: o.timeoutMs,
    clientProperties: { connection_name: o.name },
  });
  const conn = await withTimeout(connecting, o.timeoutMs, 'timed out connecting to the broker').catch(
    (err) => {
      // A connection that completes after the time limit is closed, not leaked.
      connecting.then(
        (late) =>
          late.close().catch((e: Error) => o.logger.debug({ sink: o.name, err: clean(e) }, 'close failed')),
        (e: Error) => o.logger.debug({ sink: o.name, err: clean(e) }, 'connect failed'),
      );
      throw err;
    },
  );
  let usable = true;
  const log = o.logger;
  conn.on('error', (err: Error) => {
    usable = false;
    log.warn({ sink: o.name, err: clean(err) }, 'sink broker connection error');
  });
  let closing = false;
  conn.on('close', (err?: Error) => {
    usable = false;
    // A link the broker (or the network) ended: the next delivery reconnects; the lost confirms are retried.
    if (!closing) log.warn({ sink: o.name, err: clean(err) }, 'sink broker connection closed');
  });
  conn.on('blocked', (reason: string) =>
    log.warn({ sink: o.name, reason }, 'sink broker blocked publishing'),
  );
  let ch: amqp.ConfirmChannel;
  try {
    ch = await conn.createConfirmChannel();
    ch.on('error', (err: Error) => {
      usable = false;
      log.warn({ sink: o.name, err: clean(err) }, 'sink broker channel error');
    });
    ch.on('close', () => {
      usable = false;
      void conn
        .close()
        .catch((err: Error) => log.debug({ sink: o.name, err: clean(err) }, 'close after channel'));
    });
    await ch.assertExchange(o.target.exchange, o.target.exchange_type, { durable: true });
  } catch (err) {
    await conn
      .close()
      .catch((e: Error) => log.debug({ sink: o.name, err: clean(e) }, 'close after a failed setup'));
    throw err;
  }
  const returned = new Set<string>();
  ch.on('return', (msg: amqp.Message) => {
    if (msg.properties.messageId) returned.add(String(msg.properties.messageId));
  });

  return {
    get usable() {
      return usable;
    },
    publish(m: SinkMessage): Promise<string> {
      if (!usable) return Promise.reject(new Error('the broker connection is closed'));
      const confirmed = new Promise<string>((resolve, reject) => {
        try {
          ch.publish(
            o.target.exchange,
            m.subject,
            m.body,
            {
              persistent: true,
              mandatory: true,
              messageId: m.id,
              contentType: 'application/json',
              timestamp: Math.floor(Date.now() / 1000),
              headers: m.headers,
            },
            (err: unknown) => {
              const bounced = returned.delete(m.id);
              if (err) reject(new Error('the broker refused the message (nack)'));
              else if (bounced) reject(new Error(`no queue is bound for routing key ${m.subject}`));
              else resolve(`confirmed by ${o.target.exchange}`);
            },
          );
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      return withTimeout(confirmed, o.timeoutMs, 'timed out waiting for the publisher confirm');
    },
    async close() {
      usable = false;
      closing = true;
      await conn.close().catch((e: Error) => log.debug({ sink: o.name, err: clean(e) }, 'close failed'));
    },
  };
}
