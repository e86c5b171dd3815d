// Group commit: items submitted while one flush runs are written together by the next one; no artificial delay.
import { isUnavailable } from './inbound-spooler.js';

/**
 * Writes a batch in one transaction; resolves, once it is committed (and its after-commit work is done), with one
 * result per item, in order.
 */
export type FlushBatch<T, R> = (items: readonly T[]) => Promise<R[]>;

export interface GroupCommitOptions {
  /** Most items in one flush (default 500): bounds a statement's size and a transaction's length. */
  maxBatch?: number;
}

interface Waiting<T, R> {
  item: T;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Collects items and flushes them in batches, one flush at a time, as PostgreSQL's own group commit does for WAL:
 * a lone item is flushed at once (the next microtask), and whatever arrives while a flush runs waits for the next
 * one. Each `submit` resolves only after its item's batch committed. A batch that fails for a reason other than the
 * database being unavailable is retried one item at a time, so one bad item fails alone. Items are flushed in
 * submission order, so a caller that awaits each submit keeps its own order.
 */
export class GroupCommitter<T, R = void> {
  private queue: Waiting<T, R>[] = [];
  private running = false;
  private readonly maxBatch: number;
  /** Flushes done and items written (for tests and benchmarks). */
  readonly stats = { flushes: 0, items: 0, largest: 0 };

  constructor(
    private readonly flush: FlushBatch<T, R>,
    opts: GroupCommitOptions = {},
  ) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 500);
  }

  /** Items waiting for a flush (not counting the one running). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with its result once the item is committed; rejects with the error that kept it from committing. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        // A microtask, not a timer: items submitted in the same tick share the flush, a lone one is not delayed.
        queueMicrotask(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        await this.flushBatch(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async flushBatch(batch: Waiting<T, R>[]): Promise<void> {
    try {
      const results = await this.write(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        w.resolve(results[i] as R);
      });
      return;
    } catch (err) {
      if (batch.length === 1 || isUnavailable(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
    }
    // Something in the batch is refused: write each alone so only the bad ones fail.
    for (const w of batch) {
      try {
        const [result] = await this.write([w.item]);
        w.resolve(result as R);
      } catch (err) {
        w.reject(err);
      }
    }
  }

  private async write(items: T[]): Promise<R[]> {
    const results = await this.flush(items);
    this.stats.flushes++;
    this.stats.items += items.length;
    if (items.length > this.stats.largest) this.stats.largest = items.length;
    return results;
  }
}
