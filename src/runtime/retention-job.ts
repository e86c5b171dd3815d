// The retention job: every RETENTION_INTERVAL_MS, deletes what is older than its retention, in small batches.
import type { Config } from '../config/index.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { ProviderLogger } from '../ports/provider.js';
import { RETENTION_KINDS, type RetentionKind } from '../ports/retention.js';
import type { Store } from '../ports/store.js';

export type RetentionSettings = Config['retention'];

const AGE: Record<RetentionKind, keyof RetentionSettings> = {
  events: 'eventsMs',
  delivered: 'deliveredMs',
  dead: 'deadMs',
  pendingAcks: 'pendingAcksMs',
  media: 'mediaMs',
};

/**
 * Runs at start and then every `intervalMs`. Each kind is deleted batch by batch (`batch` rows per statement, the
 * event loop is yielded between statements) until fewer than a batch remain; a kind with age 0 is kept forever.
 * Safe with several replicas: their batches skip each other's locked rows.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<Record<RetentionKind, number>> | null = null;
  private stopped = false;
  private readonly clock: Clock;

  constructor(
    private readonly o: { store: Store; settings: RetentionSettings; logger: ProviderLogger; clock?: Clock },
  ) {
    this.clock = o.clock ?? systemClock;
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.tick(), this.o.settings.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private tick(): Promise<Record<RetentionKind, number>> {
    return this.runOnce().catch((err) => {
      if (!this.stopped) this.o.logger.warn({ err: String(err) }, 'retention run failed');
      return emptyCounts();
    });
  }

  /** One pass over every kind; returns the rows deleted per kind. Overlapping calls share the pass. */
  runOnce(): Promise<Record<RetentionKind, number>> {
    if (this.running) return this.running;
    this.running = this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<Record<RetentionKind, number>> {
    const repo = this.o.store.retention;
    const { settings } = this.o;
    const counts = emptyCounts();
    for (const kind of RETENTION_KINDS) {
      const age = settings[AGE[kind]];
      if (age <= 0) continue;
      const before = new Date(this.clock.now().getTime() - age);
      while (!this.stopped) {
        const n = await repo.deleteBatch(kind, before, settings.batch);
        counts[kind] += n;
        if (n < settings.batch) break;
        await new Promise<void>((r) => setImmediate(r));
      }
    }
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (total > 0) this.o.logger.info({ deleted: counts }, 'retention: old rows deleted');
    return counts;
  }
}

function emptyCounts(): Record<RetentionKind, number> {
  return { events: 0, delivered: 0, dead: 0, pendingAcks: 0, media: 0 };
}
