// Group commit of the warm pool's claims: connects that arrive while a claim transaction runs are served together by
// the next one (one statement and one commit for all of them), instead of one transaction each. A GroupCommitter
// with one place per company in a batch and all-or-nothing batches.
import { GroupCommitter } from './group-commit.js';

/** What a claim gave one company: a claimed instance, the connection it already had, or nothing (pool empty). */
export type ClaimOutcome<I> =
  | { kind: 'claimed'; instance: I }
  | { kind: 'existing'; instanceId: string }
  | { kind: 'empty' };

/** Claims for a batch of distinct companies; every company of the batch must have an outcome. */
export type ClaimBatch<I> = (companyIds: string[]) => Promise<Map<string, ClaimOutcome<I>>>;

/** At most this many companies per claim transaction (the rest wait for the next one). */
const MAX_BATCH = 100;

/**
 * Runs one claim batch at a time; the first claim runs at once, alone. A company asking while its own claim is
 * queued shares that claim's outcome; one asking while its claim runs waits for the next batch (which then reports
 * the connection it got as `existing`). A failed batch rejects every claim of that batch (no one-by-one retry: the
 * batch's own fallback already claims company by company) and the next batch still runs.
 */
export class PoolClaimer<I> {
  private readonly committer: GroupCommitter<string, ClaimOutcome<I> | undefined>;

  constructor(run: ClaimBatch<I>, maxBatch: number = MAX_BATCH) {
    this.committer = new GroupCommitter(
      async (ids) => {
        const outcomes = await run([...ids]);
        return ids.map((id) => outcomes.get(id));
      },
      { maxBatch, key: (companyId) => companyId, retryAlone: false, startAtOnce: true },
    );
  }

  /** The company's outcome, from the next claim batch to run. */
  async claim(companyId: string): Promise<ClaimOutcome<I>> {
    const o = await this.committer.submit(companyId);
    if (!o) throw new Error(`claim batch gave no outcome for company ${companyId}`);
    return o;
  }

  /** True while a batch runs or claims wait. */
  get busy(): boolean {
    return this.committer.busy;
  }

  /** Resolves once no batch runs and no claim waits (at once if so already). */
  idle(): Promise<void> {
    return this.committer.whenIdle();
  }
}
