// Group commit: items submitted while one flush runs are written together by the next one; no artificial delay.
import { isUnavailable } from './inbound-spooler.js';

/**
 * Writes a batch in one transaction; resolves, once it is committed (and its after-commit work is done), with one
 * result per item, in order.
 */
export type FlushBatch<T, R> = (items: readonly T[]) => Promise<R[]>;

export interface GroupCommitOptions<T = unknown> {
  /** Most items in one flush (default 500): bounds a statement's size and a transaction's length. */
  maxBatch?: number;
  /**
   * Dedupe key (default none): an item whose key equals that of an item still waiting for a flush takes no place
   * of its own and shares that item's result (or error). An item whose equal is already being flushed waits for
   * the next flush. E.g. the pool's claims: one place per company in a batch.
   */
  key?: (item: T) => string;
  /**
   * Retry a refused batch one item at a time so only the bad items fail (default true). False: a failed flush
   * rejects every item of its batch with its error, and the next batch still runs.
   */
  retryAlone?: boolean;
  /**
   * Start the flush of a lone item synchronously inside `submit` (default false: the next microtask, so items
   * submitted in the same tick share it). Either way, items arriving while a flush runs wait for the next one.
   */
  startAtOnce?: boolean;
}

interface Settle<R> {
  resolve(result: R): void;
  reject(err: unknown): void;
}

interface Waiting<T, R> extends Settle<R> {
  item: T;
  /** Later submits of an equal item (same dedupe key) that share this one's result. */
  also?: Settle<R>[];
}

/**
 * Collects items and flushes them in batches, one flush at a time, as PostgreSQL's own group commit does for WAL:
 * a lone item is flushed at once (the next microtask), and whatever arrives while a flush runs waits for the next
 * one. Each `submit` resolves only after its item's batch committed. A batch that fails for a reason other than the
 * database being unavailable is retried one item at a time, so one bad item fails alone. Items are flushed in
 * submission order, so a caller that awaits each submit keeps its own order. Options add dedupe of equal waiting
 * items (`key`), all-or-nothing batches (`retryAlone: false`) and a synchronous first flush (`startAtOnce`);
 * `whenIdle()` waits until nothing runs or waits.
 */
export class GroupCommitter<T, R = void> {
  private queue: Waiting<T, R>[] = [];
  /** Waiting items by dedupe key (only with the `key` option). */
  private readonly queued = new Map<string, Waiting<T, R>>();
  private running = false;
  private idleWaiters: Array<() => void> = [];
  private readonly maxBatch: number;
  private readonly key: ((item: T) => string) | undefined;
  private readonly retryAlone: boolean;
  private readonly startAtOnce: boolean;
  /**
   * Flushes done, items written, the largest batch, and the milliseconds spent inside flushes (from the call to
   * its settling; for tests and benchmarks: the rest of the wall time is the writer waiting for items).
   */
  readonly stats = { flushes: 0, items: 0, largest: 0, flushMs: 0 };

  constructor(
    private readonly flush: FlushBatch<T, R>,
    opts: GroupCommitOptions<T> = {},
  ) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 500);
    this.key = opts.key;
    this.retryAlone = opts.retryAlone ?? true;
    this.startAtOnce = opts.startAtOnce ?? false;
  }

  /** Items waiting for a flush (not counting the one running; equal items counted once). */
  get waiting(): number {
    return this.queue.length;
  }

  /** True while a flush runs or items wait. */
  get busy(): boolean {
    return this.running || this.queue.length > 0;
  }

  /** Resolves once no flush runs and no item waits (at once if so already). */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves with its result once the item is committed; rejects with the error that kept it from committing. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const k = this.key?.(item);
      const same = k === undefined ? undefined : this.queued.get(k);
      if (same) {
        same.also ??= [];
        same.also.push({ resolve, reject });
        return;
      }
      const w: Waiting<T, R> = { item, resolve, reject };
      this.queue.push(w);
      if (k !== undefined) this.queued.set(k, w);
      if (!this.running) {
        this.running = true;
        // A microtask, not a timer: items submitted in the same tick share the flush, a lone one is not delayed.
        if (this.startAtOnce) void this.run();
        else queueMicrotask(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        if (this.key) for (const w of batch) this.queued.delete(this.key(w.item));
        await this.flushBatch(batch);
      }
    } finally {
      this.running = false;
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of idle) resolve();
    }
  }

  private async flushBatch(batch: Waiting<T, R>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        resolveAll(w, results[i] as R);
      });
      return;
    } catch (err) {
      if (!this.retryAlone || batch.length === 1 || isUnavailable(err)) {
        for (const w of batch) rejectAll(w, err);
        return;
      }
    }
    // Something in the batch is refused: write each alone so only the bad ones fail.
    for (const w of batch) {
      try {
        const [result] = await this.write([w.item]);
        resolveAll(w, result as R);
      } catch (err) {
        rejectAll(w, err);
      }
    }
  }

  private async write(items: T[]): Promise<R[]> {
    const t0 = performance.now();
    const results = await this.flush(items);
    this.stats.flushMs += performance.now() - t0;
    this.stats.flushes++;
    this.stats.items += items.length;
    if (items.length > this.stats.largest) this.stats.largest = items.length;
    return results;
  }
}

function resolveAll<T, R>(w: Waiting<T, R>, result: R): void {
  w.resolve(result);
  if (w.also) for (const s of w.also) s.resolve(result);
}

function rejectAll<T, R>(w: Waiting<T, R>, err: unknown): void {
  w.reject(err);
  if (w.also) for (const s of w.also) s.reject(err);
}
