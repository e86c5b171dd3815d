// Cluster event bus without Redis: every replica tails the event log, so all replicas see every event once.
import type { GatewayEvent } from '../domain/model.js';
import type { Store } from '../ports/store.js';
import { ClusterEventBus } from './cluster-event-bus.js';

const PAGE = 500;

/**
 * `subscribe` listeners get every replica's events through the log tail, in id order (this replica's too, so there
 * is one path and no duplicates); `subscribeLocal` listeners get this replica's events at once. A local publish
 * wakes the tail, which reads only the other replicas' rows: this replica's are excluded from the read and merged
 * in from memory. A local batch whose ids directly follow the cursor is delivered at once, without a read. Ids are taken before commit, so a lower id can appear after a higher one: the tail waits up to
 * `gapWaitMs` for a missing id before skipping it (a rolled-back transaction leaves a permanent hole).
 */
export class LogTailEventBus extends ClusterEventBus {
  /** Every id up to and including the cursor was delivered or given up on. */
  private cursor = 0;
  private readonly delivered = new Set<number>();
  private readonly gapSince = new Map<number, number>();
  /** This replica's published events the tail has not delivered yet, by id (not read back from the log). */
  private readonly mine = new Map<number, GatewayEvent>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly opts: { pollMs: number; gapWaitMs: number },
    onError: (err: unknown, what: string) => void,
  ) {
    super(onError);
  }

  /** Starts tailing after the newest event in the log. */
  async start(): Promise<void> {
    this.cursor = await this.store.events.latestId();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  publish(events: readonly GatewayEvent[]): void {
    if (events.length === 0) return;
    this.deliver(this.local, events);
    const sorted = [...events].sort((a, b) => a.id - b.id);
    if (this.continuesLog(sorted)) {
      // Nothing of another replica can sit between the cursor and these ids: delivered now, no read of the log.
      for (const e of sorted) this.delivered.add(e.id);
      this.deliver(this.all, sorted);
      this.advance();
      return;
    }
    for (const e of events) this.mine.set(e.id, e);
    this.poke();
  }

  /** True when the ids are exactly cursor+1, cursor+2, … (sorted), none delivered yet and none held back. */
  private continuesLog(sorted: readonly GatewayEvent[]): boolean {
    if (this.mine.size > 0) return false;
    return sorted.every((e, i) => e.id === this.cursor + 1 + i && !this.delivered.has(e.id));
  }

  /** Polls now (or right after the poll in progress). */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.poll()
      .catch((err) => this.onError(err, 'event log tail failed'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.poke();
        } else this.schedule();
      });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.poke(), this.opts.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let since = this.cursor;
    for (;;) {
      const exclude = [...this.mine.keys()].filter((id) => id > since);
      const page = await this.store.events.listSince({ since, limit: PAGE, exclude });
      // A full page reads the others' rows only up to its last id; this replica's above it wait for the next page.
      const upTo = page.length < PAGE ? Number.POSITIVE_INFINITY : page[page.length - 1].id;
      const batch = [...page];
      for (const [id, e] of this.mine) {
        if (id > upTo) continue;
        this.mine.delete(id);
        // An id the cursor already passed was delivered or given up on (as a row read late would be).
        if (id > this.cursor) batch.push(e);
      }
      batch.sort((a, b) => a.id - b.id);
      // A row published while its read ran can come from the log and from memory: delivered once.
      const fresh: GatewayEvent[] = [];
      for (const e of batch) {
        // An id at or below the cursor was delivered meanwhile (a local batch that continued the log).
        if (e.id <= this.cursor || this.delivered.has(e.id)) continue;
        this.delivered.add(e.id);
        fresh.push(e);
      }
      this.deliver(this.all, fresh);
      if (page.length < PAGE) break;
      since = page[page.length - 1].id;
    }
    this.advance();
  }

  /** Moves the cursor over delivered ids and over holes older than gapWaitMs. */
  private advance(): void {
    const now = Date.now();
    let max = this.cursor;
    for (const id of this.delivered) if (id > max) max = id;
    while (this.cursor < max) {
      const next = this.cursor + 1;
      if (this.delivered.has(next)) {
        this.delivered.delete(next);
        this.gapSince.delete(next);
        this.cursor = next;
        continue;
      }
      const first = this.gapSince.get(next) ?? now;
      this.gapSince.set(next, first);
      if (now - first < this.opts.gapWaitMs) break;
      this.gapSince.delete(next);
      this.cursor = next;
    }
  }
}
