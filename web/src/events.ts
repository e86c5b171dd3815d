// Live events: a WebSocket on /api/v1/events that reconnects and resumes from the last event id it saw.
import { useEffect, useRef, useState } from 'preact/hooks';
import { currentCredential, type DomainEvent, type EventType, type GatewayEvent } from './api.js';

export interface EventFilter {
  instance_id?: string;
  types?: string[];
  /** Replay the log after this id first (0 = from the beginning). */
  since?: number;
}

export type StreamState = 'connecting' | 'live' | 'offline';

/** Narrows a streamed event to one type, whose `data` then has that type's shape (src/domain/events.ts). */
export function isEvent<T extends EventType>(
  e: GatewayEvent,
  type: T,
): e is GatewayEvent & Extract<DomainEvent, { type: T }> {
  return e.type === type;
}

/** The WebSocket URL for a filter (the key goes in the query: browsers cannot set WebSocket headers). */
export function eventsUrl(filter: EventFilter, since: number | undefined): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams();
  const token = currentCredential()?.token;
  if (token) q.set('api_key', token);
  if (filter.instance_id) q.set('instance_id', filter.instance_id);
  if (filter.types?.length) q.set('types', filter.types.join(','));
  if (since !== undefined) q.set('since', String(since));
  return `${proto}//${location.host}/api/v1/events?${q}`;
}

/**
 * Subscribes while mounted; `onEvent` always sees the latest closure. Reconnects with a growing delay and
 * resumes after the last id, so nothing is missed and nothing repeats.
 */
export function useEvents(filter: EventFilter | null, onEvent: (e: GatewayEvent) => void): StreamState {
  const [state, setState] = useState<StreamState>('connecting');
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = filter ? JSON.stringify(filter) : '';

  useEffect(() => {
    if (!filter) return;
    let closed = false;
    let ws: WebSocket | null = null;
    let lastId: number | undefined = filter.since;
    let retry = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState('connecting');
    // After a drop the state stays 'offline' through the reconnect attempts, until the stream is live again.
    const open = () => {
      if (closed) return;
      ws = new WebSocket(eventsUrl(filter, lastId));
      ws.onopen = () => {
        retry = 0;
        setState('live');
      };
      ws.onmessage = (m) => {
        let e: GatewayEvent;
        try {
          e = JSON.parse(String(m.data)) as GatewayEvent;
        } catch {
          return;
        }
        if (typeof e.id === 'number') {
          if (lastId !== undefined && e.id <= lastId) return;
          lastId = e.id;
        }
        handler.current(e);
      };
      ws.onclose = () => {
        if (closed) return;
        setState('offline');
        // Live-only subscriptions resume from what they saw; if nothing yet, they resume live.
        retry = Math.min(retry + 1, 6);
        timer = setTimeout(open, 250 * 2 ** retry);
      };
    };
    open();
    return () => {
      closed = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    };
  }, [key]);

  return state;
}
