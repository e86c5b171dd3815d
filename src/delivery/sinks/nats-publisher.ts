// NATS JetStream publisher: PubAck before success, Nats-Msg-Id for dedupe, reconnects forever, guarded dials.
//
// The node transport of @nats-io/transport-node dials with a bare net.createConnection; to keep the outbound address
// policy on every (re)connect we register a subclass whose dial checks the address (IP literals directly, host names
// through the guarded lookup). nats.js only offers a process-wide transport factory, so the guard itself travels in
// each connection's options and connections without it dial as before.
import { createConnection, type Socket } from 'node:net';
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { NatsConnectionImpl, headers as natsHeaders, setTransportFactory } from '@nats-io/nats-core/internal';
import type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node';
import { NodeTransport, nodeResolveHost } from '@nats-io/transport-node/lib/node_transport.js';
import type { ProviderLogger } from '../../ports/provider.js';
import { type BrokerGuard, connectGuard } from './guard.js';
import { type SinkMessage, type SinkPublisher, withTimeout } from './publisher.js';
import { type NatsTarget, type SinkCredentials, scrub, streamSubjects } from './spec.js';

const GUARD = 'switchboardBrokerGuard';

/** The node transport with the outbound address policy applied to every dial. */
class GuardedNodeTransport extends NodeTransport {
  override dial(hp: { hostname: string; port: number }): Promise<Socket> {
    const guard = (this.options as unknown as Record<string, BrokerGuard | undefined>)[GUARD];
    if (!guard) return super.dial(hp);
    const { lookup } = connectGuard(hp.hostname, guard);
    return new Promise((resolve, reject) => {
      let dialError: Error | undefined;
      const socket = createConnection({ port: hp.port, host: hp.hostname, lookup }, () => {
        socket.removeAllListeners();
        resolve(socket);
      });
      socket.on('error', (err) => {
        dialError = err;
      });
      socket.on('close', () => {
        socket.removeAllListeners();
        reject(dialError ?? new Error('connection closed'));
      });
      socket.setNoDelay(true);
    });
  }
}

function useGuardedTransport(): void {
  setTransportFactory({ factory: () => new GuardedNodeTransport(), dnsResolveFn: nodeResolveHost });
}

export interface NatsPublisherOptions {
  target: NatsTarget;
  credentials: SinkCredentials;
  guard: BrokerGuard;
  /** Time limit for connecting and for each PubAck, in ms. */
  timeoutMs: number;
  logger: ProviderLogger;
  name: string;
  /** Secrets to scrub from error texts before they are logged. */
  secrets: readonly string[];
}

/** Creates the stream (file storage, subjects `<first token>.>`) unless it exists. */
async function ensureStream(jsm: JetStreamManager, t: NatsTarget): Promise<void> {
  try {
    await jsm.streams.info(t.stream);
  } catch (err) {
    if ((err as { code?: number }).code !== 10059 && !/stream not found/i.test(String(err))) throw err;
    await jsm.streams.add({ name: t.stream, subjects: streamSubjects(t.subject) });
  }
}

/**
 * Connects (reconnecting forever, gossiped cluster addresses ignored so only the configured servers are dialled),
 * makes sure the stream exists, and publishes with `Nats-Msg-Id` = the event id and `expect.streamName`.
 */
export async function openNatsPublisher(o: NatsPublisherOptions): Promise<SinkPublisher> {
  useGuardedTransport();
  const opts: ConnectionOptions & Record<string, unknown> = {
    servers: o.target.servers,
    name: o.name,
    timeout: o.timeoutMs,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ignoreClusterUpdates: true,
    // Host names reach the dial unresolved, so the guarded lookup (not nats.js's own DNS step) resolves them.
    resolve: false,
    [GUARD]: o.guard,
  };
  if (o.credentials.token) opts.token = o.credentials.token;
  else if (o.credentials.username) {
    opts.user = o.credentials.username;
    opts.pass = o.credentials.password;
  }
  const clean = (err: Error) => scrub(err.message, o.secrets);
  const nc: NatsConnection = await NatsConnectionImpl.connect(opts);
  let usable = true;
  void nc.closed().then((err) => {
    usable = false;
    if (err) o.logger.warn({ sink: o.name, err: clean(err) }, 'sink NATS connection closed');
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') {
        o.logger.info({ sink: o.name, status: s.type }, 'sink NATS connection status');
      }
    }
  })().catch((err: Error) => o.logger.debug({ sink: o.name, err: clean(err) }, 'status stream ended'));
  try {
    await withTimeout(
      (async () => ensureStream(await jetstreamManager(nc, { timeout: o.timeoutMs }), o.target))(),
      o.timeoutMs,
      'timed out preparing the JetStream stream',
    );
  } catch (err) {
    usable = false;
    await nc.close().catch((e: Error) => o.logger.debug({ sink: o.name, err: clean(e) }, 'close failed'));
    throw err;
  }
  const js = jetstream(nc, { timeout: o.timeoutMs });

  return {
    get usable() {
      return usable && !nc.isClosed();
    },
    async publish(m: SinkMessage): Promise<string> {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
      const ack = await js.publish(m.subject, m.body, {
        msgID: m.id,
        headers: h,
        timeout: o.timeoutMs,
        expect: { streamName: o.target.stream },
      });
      return `stream ${ack.stream} seq ${ack.seq}${ack.duplicate ? ' (duplicate)' : ''}`;
    },
    async close() {
      usable = false;
      await nc.close().catch((e: Error) => o.logger.debug({ sink: o.name, err: clean(e) }, 'close failed'));
    },
  };
}
