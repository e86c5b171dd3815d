// Group commit of the warm pool's claims: connects that arrive while a claim transaction runs are served together by
// the next one (one statement and one commit for all of them), instead of one transaction each.

/** What a claim gave one company: a claimed instance, the connection it already had, or nothing (pool empty). */
export type ClaimOutcome<I> =
  | { kind: 'claimed'; instance: I }
  | { kind: 'existing'; instanceId: string }
  | { kind: 'empty' };

/** Claims for a batch of distinct companies; every company of the batch must have an outcome. */
export type ClaimBatch<I> = (companyIds: string[]) => Promise<Map<string, ClaimOutcome<I>>>;

interface Waiter<I> {
  resolve(o: ClaimOutcome<I>): void;
  reject(err: unknown): void;
}

/** At most this many companies per claim transaction (the rest wait for the next one). */
const MAX_BATCH = 100;

/**
 * Runs one claim batch at a time. A company asking while its own claim is queued shares that claim's outcome; one
 * asking while its claim runs waits for the next batch (which then reports the connection it got as `existing`).
 */
export class PoolClaimer<I> {
  private readonly queue = new Map<string, Waiter<I>[]>();
  private running: Promise<void> | null = null;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly run: ClaimBatch<I>,
    private readonly maxBatch: number = MAX_BATCH,
  ) {}

  /** The company's outcome, from the next claim batch to run. */
  claim(companyId: string): Promise<ClaimOutcome<I>> {
    return new Promise((resolve, reject) => {
      const waiters = this.queue.get(companyId);
      if (waiters) waiters.push({ resolve, reject });
      else this.queue.set(companyId, [{ resolve, reject }]);
      this.next();
    });
  }

  /** True while a batch runs or claims wait. */
  get busy(): boolean {
    return this.running !== null || this.queue.size > 0;
  }

  /** Resolves once no batch runs and no claim waits (at once if so already). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private next(): void {
    if (this.running) return;
    if (this.queue.size === 0) {
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of idle) resolve();
      return;
    }
    const batch = new Map<string, Waiter<I>[]>();
    for (const [companyId, waiters] of this.queue) {
      if (batch.size >= this.maxBatch) break;
      batch.set(companyId, waiters);
    }
    for (const companyId of batch.keys()) this.queue.delete(companyId);
    this.running = this.settle(batch).finally(() => {
      this.running = null;
      this.next();
    });
  }

  private async settle(batch: Map<string, Waiter<I>[]>): Promise<void> {
    try {
      const outcomes = await this.run([...batch.keys()]);
      for (const [companyId, waiters] of batch) {
        const o = outcomes.get(companyId);
        for (const w of waiters) {
          if (o) w.resolve(o);
          else w.reject(new Error(`claim batch gave no outcome for company ${companyId}`));
        }
      }
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    }
  }
}
