// Streams gateway events to one WebSocket (replay + live, heartbeat, bounded buffer); tracks streams per credential.
import type { WebSocket } from 'ws';
import { canSeeEvent } from '../core/access.js';
import type { CredentialService } from '../core/keys.js';
import { openEventStream, type StreamFilter } from '../delivery/event-stream.js';
import { SbError } from '../domain/errors.js';
import type { GatewayEvent, Principal } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Store } from '../ports/store.js';

/** Close code for a subscriber that fell too far behind; it can reconnect with `since` = last id seen. */
export const WS_CLOSE_SLOW = 4008;
/** Close code for a stream whose key was revoked or rotated (on any replica). */
export const WS_CLOSE_REVOKED = 4401;

/** Something open on behalf of a credential that must end when the credential is revoked. */
export interface Closable {
  close(): void;
}

const ownerOf = (p: Principal): string => (p.kind === 'admin' ? '*admin*' : p.companyId);

/**
 * Open streams and MCP requests of this process, by company (the per-company socket cap over every stream route)
 * and by credential (closed within moments of a revocation announced by any replica).
 */
export class StreamRegistry {
  private readonly perCompany = new Map<string, number>();
  private readonly byKey = new Map<string, Set<Closable>>();
  private readonly stop: () => void;

  constructor(
    credentials: Pick<CredentialService, 'onRevoked'>,
    private readonly maxStreamsPerCompany: number,
  ) {
    this.stop = credentials.onRevoked((ids) => {
      for (const id of ids) for (const c of [...(this.byKey.get(id) ?? [])]) c.close();
    });
  }

  /** Throws 429 SB_ERR_RATE_LIMITED when the caller's company already has the maximum of open streams. */
  admit(p: Principal): void {
    const limit = this.maxStreamsPerCompany;
    if ((this.perCompany.get(ownerOf(p)) ?? 0) >= limit) {
      throw new SbError('SB_ERR_RATE_LIMITED', 'too many open event streams for this company', {
        headers: { 'retry-after': '5' },
        details: { limit, quota: 'WS_MAX_CONNECTIONS_PER_COMPANY' },
      });
    }
  }

  /** Tracks a stream (counted toward the company cap when `counted`); returns the function that releases it. */
  track(p: Principal, c: Closable, counted = true): () => void {
    const owner = ownerOf(p);
    if (counted) this.perCompany.set(owner, (this.perCompany.get(owner) ?? 0) + 1);
    const key = p.keyId;
    if (key) {
      const set = this.byKey.get(key) ?? new Set<Closable>();
      this.byKey.set(key, set);
      set.add(c);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (counted) {
        const n = (this.perCompany.get(owner) ?? 1) - 1;
        if (n <= 0) this.perCompany.delete(owner);
        else this.perCompany.set(owner, n);
      }
      const set = key ? this.byKey.get(key) : undefined;
      set?.delete(c);
      if (key && set?.size === 0) this.byKey.delete(key);
    };
  }

  /** Open streams of a company in this process. */
  openFor(companyId: string): number {
    return this.perCompany.get(companyId) ?? 0;
  }

  close(): void {
    this.stop();
  }
}

const registries = new WeakMap<object, StreamRegistry>();

/** The one registry of a gateway (shared by every stream route and MCP); created on first use. */
export function streamRegistry(gw: {
  credentials: CredentialService;
  config: { http: { wsMaxPerCompany: number } };
  onClose: Array<() => Promise<void> | void>;
}): StreamRegistry {
  let r = registries.get(gw);
  if (!r) {
    const created = new StreamRegistry(gw.credentials, gw.config.http.wsMaxPerCompany);
    registries.set(gw, created);
    gw.onClose.push(() => created.close());
    r = created;
  }
  return r;
}

/**
 * Accepts a WebSocket stream for `p`: counts it toward its company's cap and closes it (code 4401) when its key is
 * revoked. Call `admit` before the upgrade to refuse with a 429 instead.
 */
export function trackSocket(registry: StreamRegistry, p: Principal, socket: WebSocket): void {
  const release = registry.track(p, {
    close: () => socket.close(WS_CLOSE_REVOKED, 'credential revoked'),
  });
  socket.once('close', release);
}
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const PING_MS = 30_000;

/**
 * Sends the events matching `filter` and visible to `viewer` (replayed after `since`, then live) as JSON frames,
 * mapped by `shape`: an instance key or a key limited to instances sees only those instances' events, in the
 * replay as live. Pings every 30 s and terminates a peer that did not answer; closes a peer with 4 MB unsent (code
 * 4008).
 */
export async function streamEventsToSocket(
  socket: WebSocket,
  deps: { store: Store; bus: EventBus },
  viewer: Principal,
  filter: StreamFilter,
  since: number | undefined,
  shape: (e: GatewayEvent) => unknown = (e) => e,
): Promise<void> {
  const send = (e: GatewayEvent): boolean => {
    if (socket.readyState !== socket.OPEN) return false;
    if (!canSeeEvent(viewer, e)) return true;
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
