// A live event stream for one subscriber: replay from the log after `since`, then live, no gap, no duplicate.
import type { GatewayEvent } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Store } from '../ports/store.js';

export interface StreamFilter {
  /** Only this company's events (always set for non-admin callers). */
  company_id?: string;
  instance_id?: string;
  types?: string[];
}

export function matches(e: GatewayEvent, f: StreamFilter): boolean {
  return (
    (f.company_id === undefined || e.company_id === f.company_id) &&
    (f.instance_id === undefined || e.instance_id === f.instance_id) &&
    (!f.types?.length || f.types.includes(e.type))
  );
}

const REPLAY_PAGE = 500;

/**
 * Subscribes first (buffering), replays the log after `since`, then flushes the buffer skipping what the replay
 * already sent. Returns a stop function. `send` returning false means the subscriber is gone or too slow.
 */
export async function openEventStream(
  deps: { store: Store; bus: EventBus },
  filter: StreamFilter,
  since: number | undefined,
  send: (e: GatewayEvent) => boolean,
): Promise<() => void> {
  let live = false;
  let stopped = false;
  const buffer: GatewayEvent[] = [];
  const sent = new Set<number>();
  const unsubscribe = deps.bus.subscribe((e) => {
    if (stopped || !matches(e, filter)) return;
    if (!live) buffer.push(e);
    else if (!send(e)) stop();
  });
  const stop = () => {
    stopped = true;
    unsubscribe();
  };
  try {
    if (since !== undefined) {
      let cursor = since;
      for (;;) {
        const page = await deps.store.events.listSince({ since: cursor, limit: REPLAY_PAGE, ...filter });
        for (const e of page) {
          if (stopped) return stop;
          sent.add(e.id);
          if (!send(e)) {
            stop();
            return stop;
          }
        }
        if (page.length < REPLAY_PAGE) break;
        cursor = page[page.length - 1].id;
      }
    }
    for (const e of buffer) {
      if (stopped) break;
      if (sent.has(e.id) || (since !== undefined && e.id <= since)) continue;
      if (!send(e)) {
        stop();
        break;
      }
    }
  } finally {
    buffer.length = 0;
    sent.clear();
    live = true;
  }
  return stop;
}
