// Streams gateway events to one WebSocket: replay + live, heartbeat, and a bounded send buffer.
import type { WebSocket } from 'ws';
import { openEventStream, type StreamFilter } from '../delivery/event-stream.js';
import type { GatewayEvent } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Store } from '../ports/store.js';

/** Close code for a subscriber that fell too far behind; it can reconnect with `since` = last id seen. */
export const WS_CLOSE_SLOW = 4008;
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const PING_MS = 30_000;

/**
 * Sends the events matching `filter` (replayed after `since`, then live) as JSON frames, mapped by `shape`.
 * Pings every 30 s and terminates a peer that did not answer; closes a peer with 4 MB unsent (code 4008).
 */
export async function streamEventsToSocket(
  socket: WebSocket,
  deps: { store: Store; bus: EventBus },
  filter: StreamFilter,
  since: number | undefined,
  shape: (e: GatewayEvent) => unknown = (e) => e,
): Promise<void> {
  const send = (e: GatewayEvent): boolean => {
    if (socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      socket.close(WS_CLOSE_SLOW, 'too slow: reconnect with since=<last id>');
      return false;
    }
    socket.send(JSON.stringify(shape(e)));
    return true;
  };
  let alive = true;
  const ping = setInterval(() => {
    if (!alive) return socket.terminate();
    alive = false;
    socket.ping();
  }, PING_MS);
  ping.unref();
  socket.on('pong', () => {
    alive = true;
  });
  let stop: () => void = () => {};
  socket.on('close', () => {
    clearInterval(ping);
    stop();
  });
  socket.on('message', () => {
    // The stream is one-way; client messages are ignored.
  });
  stop = await openEventStream(deps, filter, since, send);
  if (socket.readyState !== socket.OPEN) stop();
}
