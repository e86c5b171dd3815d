// MQTT 5 publisher (mqtt.js): QoS 1 publishes that resolve on PUBACK, headers as user properties, guarded dials.
//
// mqtt.js's own TCP stream builder dials with a bare net.createConnection (and honours MQTTJS_SOCKS_PROXY), so the
// client is built on a stream builder of ours that applies the outbound address policy on every connect. The client
// does not reconnect by itself: a lost connection makes the publisher unusable, its pending publishes fail (their
// deliveries are retried), and the dispatcher opens a new connection for the next delivery, as for RabbitMQ.
import { randomBytes } from 'node:crypto';
import { createConnection, isIP, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { type IClientOptions, MqttClient } from 'mqtt';
import type { ProviderLogger } from '../../ports/provider.js';
import { type BrokerGuard, brokerHost, connectGuard } from './guard.js';
import { type SinkMessage, type SinkPublisher, withTimeout } from './publisher.js';
import { type SinkCredentials, scrub } from './spec.js';

export interface MqttPublisherOptions {
  /** Stored broker URL (`mqtt://host:port` or `mqtts://…`), without credentials. */
  url: string;
  credentials: SinkCredentials;
  guard: BrokerGuard;
  /** Time limit for connecting (CONNACK) and for each PUBACK, in ms. */
  timeoutMs: number;
  logger: ProviderLogger;
  /** Client id prefix (`switchboard-sink-<id>`); a random suffix keeps replicas from taking over each other. */
  name: string;
  /** Secrets to scrub from error texts before they are logged. */
  secrets: readonly string[];
}

/** A socket that fails at once with `err` (what a refused dial looks like to mqtt.js). */
function failedSocket(err: Error): Socket {
  const s = new Socket();
  process.nextTick(() => s.destroy(err));
  return s;
}

/** Waits for `n` free slots of a counting limit (the broker's Receive Maximum). */
class Slots {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Connects with MQTT 5 (clean start, no session kept), then publishes each message with QoS 1 to its rendered topic;
 * `publish` resolves on the broker's PUBACK (a reason code of 0x80 or above, e.g. not authorised, is a failure).
 */
export async function openMqttPublisher(o: MqttPublisherOptions): Promise<SinkPublisher> {
  const u = new URL(o.url);
  const secure = u.protocol === 'mqtts:';
  const host = brokerHost(o.url);
  const port = Number(u.port || (secure ? 8883 : 1883));
  const clean = (err: Error | undefined) => (err ? scrub(err.message, o.secrets) : null);
  const log = o.logger;

  // Called for every (re)connect: the address actually dialled is checked (IP literals here, names in the lookup).
  const streamBuilder = (): Socket => {
    let guard: ReturnType<typeof connectGuard>;
    try {
      guard = connectGuard(host, o.guard);
    } catch (err) {
      return failedSocket(err as Error);
    }
    if (secure) {
      return tlsConnect({
        host,
        port,
        servername: isIP(host) ? undefined : host,
        rejectUnauthorized: true,
        ...guard,
      });
    }
    return createConnection({ host, port, ...guard });
  };
  const options: IClientOptions = {
    protocolVersion: 5,
    clientId: `${o.name}-${randomBytes(4).toString('hex')}`,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 0,
    connectTimeout: o.timeoutMs,
    resubscribe: false,
    properties: { sessionExpiryInterval: 0 },
  };
  if (o.credentials.username) options.username = o.credentials.username;
  if (o.credentials.password) options.password = o.credentials.password;
  const client = new MqttClient(() => streamBuilder(), options);

  let usable = false;
  let closing = false;
  let receiveMaximum = 65_535;
  // mqtt.js emits 'error' for a refused CONNACK, a stream error or a protocol error: never unhandled.
  client.on('error', (err: Error) => {
    if (usable) log.warn({ sink: o.name, err: clean(err) }, 'sink MQTT connection error');
  });
  client.on('disconnect', (packet) => {
    log.warn({ sink: o.name, reasonCode: packet.reasonCode }, 'sink MQTT broker sent DISCONNECT');
  });
  const connected = new Promise<void>((resolve, reject) => {
    const onConnect = (connack: { properties?: { receiveMaximum?: number } }) => {
      receiveMaximum = connack.properties?.receiveMaximum ?? receiveMaximum;
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      resolve();
    };
    const onError = (err: Error) => {
      client.removeListener('connect', onConnect);
      client.removeListener('close', onClose);
      reject(new Error(clean(err) ?? 'connect failed'));
    };
    const onClose = () => {
      client.removeListener('connect', onConnect);
      client.removeListener('error', onError);
      reject(new Error('the broker closed the connection before CONNACK'));
    };
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
  try {
    await withTimeout(connected, o.timeoutMs, 'timed out connecting to the broker');
  } catch (err) {
    client.end(true);
    throw err;
  }
  usable = true;
  client.on('close', () => {
    if (!usable) return;
    usable = false;
    // The broker (or the network) ended the link: fail what is in flight (retried), the next delivery reconnects.
    if (!closing) log.warn({ sink: o.name }, 'sink MQTT connection closed');
    client.end(true);
  });
  // Never more QoS 1 publishes in flight than the broker's Receive Maximum (it may disconnect us otherwise).
  const slots = new Slots(receiveMaximum);

  return {
    get usable() {
      return usable && client.connected;
    },
    async publish(m: SinkMessage): Promise<string> {
      if (!usable) throw new Error('the broker connection is closed');
      await slots.take();
      try {
        if (!usable) throw new Error('the broker connection is closed');
        const { 'content-type': contentType, ...headers } = m.headers;
        const acked = client.publishAsync(m.subject, m.body, {
          qos: 1,
          retain: false,
          properties: {
            contentType: contentType ?? 'application/json',
            payloadFormatIndicator: true,
            userProperties: { ...headers, 'message-id': m.id },
          },
        });
        await withTimeout(acked, o.timeoutMs, 'timed out waiting for the PUBACK');
        return `puback for ${m.subject}`;
      } catch (err) {
        throw new Error(clean(err as Error) ?? 'publish failed');
      } finally {
        slots.give();
      }
    },
    async close() {
      usable = false;
      closing = true;
      // A DISCONNECT once the PUBACKs in flight are in; a broker that does not answer is cut off.
      await withTimeout(client.endAsync(false), o.timeoutMs, 'timed out closing').catch((e: Error) => {
        log.debug({ sink: o.name, err: clean(e) }, 'close failed');
        client.end(true);
      });
    },
  };
}
