// Sink tests: a dispatcher whose guard sees every broker host resolve to loopback, to prove a dial is refused.
import { createSinkDispatcher, type SinkDispatcher } from '../../src/delivery/sinks/dispatcher.js';

/**
 * A sink dispatcher that refuses private addresses and resolves every host name to 127.0.0.1 through an injected
 * resolver (no DNS query), so any dial is refused before connecting. Each host it is asked about is pushed on `seen`.
 */
export function loopbackResolvingDispatcher(seen: string[]): SinkDispatcher {
  return createSinkDispatcher({
    guard: {
      allowPrivate: false,
      resolve: async (host) => {
        seen.push(host);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    },
    timeoutMs: 1000,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
}
