// A live event stream for one subscriber: gap-free replay from the log after `since`, then live, in id order, once.
import type { GatewayEvent } from '../domain/model.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
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

/**
 * How long a missing id is waited for (5 s, as the log-tail bus): event ids are taken before commit, so a lower id
 * can commit after a higher one; a rolled-back transaction leaves a hole that never fills.
 */
export const GAP_WAIT_MS = 5_000;
const REPLAY_PAGE = 500;
const TAIL_LIMIT = 5_000;
/** Holes given up on are remembered (to deliver them if they commit after all) up to this many. */
const GIVEN_UP_MAX = 10_000;

export interface ReplayOptions {
  clock?: Clock;
  /** Default GAP_WAIT_MS. */
  gapWaitMs?: number;
}

/** The highest id such that every id from `since` up to it is committed, or older than the gap wait. */
export function watermark(
  since: number,
  tail: { settled: number; ids: ReadonlyArray<{ id: number }> },
): number {
  let w = Math.max(since, tail.settled);
  for (const { id } of tail.ids) {
    if (id <= w) continue;
    if (id !== w + 1) break;
    w = id;
  }
  return w;
}

export interface ReplayPage {
  /** Matching events after `since`, oldest first, none above `next_since`. */
  events: GatewayEvent[];
  /** Resume from here: every id up to it was returned, did not match, or was given up on. */
  next_since: number;
  /** Matching events above `next_since` that are held back behind a hole still young enough to fill. */
  held: GatewayEvent[];
  /** The committed ids above max(since, settled), with their creation times. */
  tail: Array<{ id: number; created_at: string }>;
}

/**
 * One gap-free page of the log after `since` (HTTP polling and WebSocket replay): stops before the first id that is
 * missing while a higher id is younger than the gap wait, so an id that commits late is returned later, once,
 * instead of being skipped by `id > since`. The frontier is read before the page, so every id up to it is visible.
 */
export async function replayPage(
  store: Store,
  filter: StreamFilter,
  since: number,
  limit: number,
  opts: ReplayOptions = {},
): Promise<ReplayPage> {
  const now = (opts.clock ?? systemClock).now().getTime();
  const tail = await store.events.recentIds({
    after: since,
    olderThan: new Date(now - (opts.gapWaitMs ?? GAP_WAIT_MS)),
    limit: TAIL_LIMIT,
  });
  const w = watermark(since, tail);
  const page = await store.events.listSince({ since, limit, ...filter });
  const last = page[page.length - 1];
  const bound = page.length === limit && last ? Math.min(w, last.id) : w;
  return {
    events: page.filter((e) => e.id <= bound),
    next_since: Math.max(since, bound),
    held: page.filter((e) => e.id > bound),
    tail: tail.ids,
  };
}

/**
 * Releases events in id order from `cursor` on. Every event of the log is offered (matching or not), so a missing
 * id is a transaction still running or rolled back: it is waited for until `gapWaitMs` after the next higher event
 * was created, then given up (and still delivered if it commits later).
 */
class Sequencer {
  private readonly pending = new Map<number, { e: GatewayEvent | null; at: number }>();
  private readonly givenUp = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  stopped = false;

  constructor(
    public cursor: number,
    private readonly gapWaitMs: number,
    private readonly clock: Clock,
    private readonly deliver: (e: GatewayEvent) => void,
  ) {}

  /** `e` is null for an id that exists but does not match the filter. */
  offer(id: number, e: GatewayEvent | null, createdAt: string): void {
    if (this.stopped) return;
    if (id <= this.cursor) {
      if (e && this.givenUp.delete(id)) this.deliver(e);
      return;
    }
    if (!this.pending.has(id)) this.pending.set(id, { e, at: Date.parse(createdAt) });
  }

  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (!this.stopped && this.pending.size) {
      const next = this.cursor + 1;
      const p = this.pending.get(next);
      if (p) {
        this.pending.delete(next);
        this.cursor = next;
        if (p.e) this.deliver(p.e);
        continue;
      }
      const above = Math.min(...this.pending.keys());
      const wait = this.pending.get(above)!.at + this.gapWaitMs - this.clock.now().getTime();
      if (wait > 0) {
        this.timer = setTimeout(() => this.release(), wait);
        this.timer.unref();
        return;
      }
      for (let id = next; id < above; id++) this.giveUp(id);
      this.cursor = above - 1;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.pending.clear();
    this.givenUp.clear();
  }

  private giveUp(id: number): void {
    this.givenUp.add(id);
    if (this.givenUp.size > GIVEN_UP_MAX) this.givenUp.delete(this.givenUp.values().next().value!);
  }
}

/**
 * Subscribes first (buffering), replays the log after `since` page by page without skipping a late-committing id,
 * then goes live: events are released in id order (a higher id waits for a lower one still committing, up to the
 * gap wait), so the last id a subscriber saw is always a safe `since` to resume from. Returns a stop function.
 * `send` returning false means the subscriber is gone or too slow.
 */
export async function openEventStream(
  deps: { store: Store; bus: EventBus } & ReplayOptions,
  filter: StreamFilter,
  since: number | undefined,
  send: (e: GatewayEvent) => boolean,
): Promise<() => void> {
  const clock = deps.clock ?? systemClock;
  const gapWaitMs = deps.gapWaitMs ?? GAP_WAIT_MS;
  let seq: Sequencer | null = null;
  let stopped = false;
  const buffer: GatewayEvent[] = [];
  /** Since-less streams: ids at or below this were not committed when the stream opened, so they are new to it. */
  let base = 0;
  /** Ids at or below `base` already delivered live (an event can arrive twice: see `listen` below). */
  const late = new Set<number>();
  const stop = () => {
    stopped = true;
    seq?.stop();
    for (const off of unsubscribe) off();
  };
  const deliver = (e: GatewayEvent) => {
    if (!stopped && !send(e)) stop();
  };
  const onLive = (s: Sequencer, e: GatewayEvent) => {
    const hit = matches(e, filter);
    if (e.id <= s.cursor && e.id <= base) {
      if (late.has(e.id)) return;
      if (late.size >= GIVEN_UP_MAX) late.clear();
      late.add(e.id);
      if (hit) deliver(e);
      return;
    }
    s.offer(e.id, hit ? e : null, e.created_at);
    s.release();
  };
  const listen = (e: GatewayEvent) => {
    if (stopped) return;
    if (seq) onLive(seq, e);
    else buffer.push(e);
  };
  // This replica's events are taken as it publishes them too: on the log-tail bus `subscribe` only has them after
  // the tail's next read of the log (a round trip, more while a read runs). The sequencer keeps the order and
  // drops the second arrival, on a bus that hands local events to both lists (Redis) as on the log tail.
  const unsubscribe = [
    deps.bus.subscribe(listen),
    ...(deps.bus.subscribeLocal ? [deps.bus.subscribeLocal(listen)] : []),
  ];
  try {
    let cursor: number;
    let held: GatewayEvent[] = [];
    let tail: Array<{ id: number; created_at: string }> = [];
    if (since === undefined) {
      cursor = await deps.store.events.latestId();
      base = cursor;
    } else {
      cursor = since;
      for (;;) {
        const page = await replayPage(deps.store, filter, cursor, REPLAY_PAGE, { clock, gapWaitMs });
        for (const e of page.events) deliver(e);
        if (stopped) return stop;
        cursor = page.next_since;
        // Everything committed after the cursor is known (matching events and the other ids): go live from here.
        if (page.events.length + page.held.length < REPLAY_PAGE && page.tail.length < TAIL_LIMIT) {
          held = page.held;
          tail = page.tail;
          break;
        }
        // A young hole inside a full page: give it a moment to commit (or to age past the gap wait), then go on.
        if (page.held.length) await new Promise((r) => setTimeout(r, Math.min(100, gapWaitMs)));
      }
    }
    const s = new Sequencer(cursor, gapWaitMs, clock, deliver);
    const heldById = new Map(held.map((e) => [e.id, e]));
    for (const t of tail) s.offer(t.id, heldById.get(t.id) ?? null, t.created_at);
    seq = s;
    for (const e of buffer) {
      if (stopped) break;
      onLive(s, e);
    }
    s.release();
  } finally {
    buffer.length = 0;
  }
  return stop;
}
