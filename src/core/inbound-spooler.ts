// Inbound messages whose commit fails: retried with backoff, then kept in the durable spool and replayed in order.
import { SbError } from '../domain/errors.js';
import type { ProviderLogger } from '../ports/provider.js';
import type { MessageSpool, SpoolRecord } from '../ports/spool.js';

/** Counts what happens to messages that needed the spool (metrics). */
export interface SpoolObserver {
  onSpool(result: 'spooled' | 'replayed' | 'dropped'): void;
}

export interface InboundSpoolerDeps {
  /** Durable spool; null = none (a failed commit then fails the provider's emit, as before). */
  spool: MessageSpool | null;
  /** Stores one message (idempotent on instance id + message id). */
  commit(rec: SpoolRecord): Promise<void>;
  logger: ProviderLogger;
  observer?: SpoolObserver;
  /** Waits between commit attempts before spooling, in ms (default 100, 300, 1000: about 1.4 s in all). */
  retryDelaysMs?: readonly number[];
  /** Replay retry backoff while the database stays down, in ms (default 250 doubling to 5000). */
  replayBackoffMs?: { min: number; max: number };
}

/** True for the error the storage drivers raise when the database cannot be reached. */
export function isUnavailable(err: unknown): boolean {
  return err instanceof SbError && err.code === 'SB_ERR_UNAVAILABLE';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Writes inbound messages so that one a provider was told is received is never lost while the database is down. */
export class InboundSpooler {
  private readonly delays: readonly number[];
  private readonly backoff: { min: number; max: number };
  private nextBackoff: number;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private draining: Promise<void> | null = null;
  private stopped = false;
  /** True from the first spooled message until the spool is empty again (logs once per outage). */
  private spooling = false;

  constructor(private readonly deps: InboundSpoolerDeps) {
    this.delays = deps.retryDelaysMs ?? [100, 300, 1000];
    this.backoff = deps.replayBackoffMs ?? { min: 250, max: 5000 };
    this.nextBackoff = this.backoff.min;
  }

  /** Messages waiting in the spool. */
  get pending(): number {
    return this.deps.spool?.pending ?? 0;
  }

  /**
   * Stores the message, or spools it durably when the database stays unavailable through the retries. Resolves
   * once the message is committed or synced to the spool; rejects (`SB_ERR_SPOOL_FULL`, other errors) otherwise.
   */
  async write(rec: SpoolRecord): Promise<void> {
    const spool = this.deps.spool;
    // While older messages wait in the spool, newer ones queue behind them so the order is kept.
    if (spool && spool.pending > 0) return this.toSpool(spool, rec);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.commit(rec);
        return;
      } catch (err) {
        if (!isUnavailable(err) || !spool || this.stopped) throw err;
        if (attempt >= this.delays.length || spool.pending > 0) break;
        await sleep(this.delays[attempt]!);
      }
    }
    return this.toSpool(spool, rec);
  }

  private async toSpool(spool: MessageSpool, rec: SpoolRecord): Promise<void> {
    const where = { instance_id: rec.instance_id, message_id: rec.message.message_id };
    try {
      await spool.append(rec);
    } catch (err) {
      this.deps.observer?.onSpool('dropped');
      this.deps.logger.error(
        { ...where, pending: spool.pending, bytes: spool.bytes, err: String(err) },
        err instanceof SbError && err.code === 'SB_ERR_SPOOL_FULL'
          ? 'inbound spool is full: message not accepted'
          : 'inbound spool write failed: message not accepted',
      );
      throw err;
    }
    this.deps.observer?.onSpool('spooled');
    if (!this.spooling) {
      this.spooling = true;
      this.deps.logger.warn(where, 'database unavailable: spooling inbound messages to disk');
    }
    this.schedule(0);
  }

  /** Replays what an earlier run left in the spool (call at start; retries in the background if it fails). */
  async start(): Promise<void> {
    if (this.pending > 0) {
      this.deps.logger.info({ pending: this.pending }, 'replaying the inbound spool');
      await this.drain();
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer || this.draining) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, delayMs);
    this.timer.unref?.();
  }

  private drain(): Promise<void> {
    if (this.draining) return this.draining;
    const spool = this.deps.spool;
    if (!spool || this.stopped) return Promise.resolve();
    const run = (async () => {
      let retryIn = 0;
      try {
        const n = await spool.replay((rec) => this.replayOne(rec));
        this.nextBackoff = this.backoff.min;
        if (n) this.deps.logger.info({ replayed: n, pending: spool.pending }, 'inbound spool replayed');
      } catch (err) {
        retryIn = this.nextBackoff;
        this.nextBackoff = Math.min(this.nextBackoff * 2, this.backoff.max);
        if (!isUnavailable(err)) this.deps.logger.error({ err: String(err) }, 'inbound spool replay failed');
      } finally {
        this.draining = null;
      }
      if (spool.pending > 0) this.schedule(retryIn);
      else this.spooling = false;
    })();
    this.draining = run;
    return run;
  }

  /** Stores one spooled message; one that can never be stored (not a database outage) is logged and dropped. */
  private async replayOne(rec: SpoolRecord): Promise<void> {
    try {
      await this.deps.commit(rec);
      this.deps.observer?.onSpool('replayed');
    } catch (err) {
      if (isUnavailable(err) || this.stopped) throw err;
      this.deps.observer?.onSpool('dropped');
      this.deps.logger.error(
        { instance_id: rec.instance_id, message_id: rec.message.message_id, err: String(err) },
        'spooled message cannot be stored: dropped',
      );
    }
  }

  /** Stops replaying (what is left stays on disk for the next start) and closes the spool. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.draining;
    await this.deps.spool?.close();
  }
}
