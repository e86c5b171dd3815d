// The retention port: deletes what is older than its retention, one small batch of one kind at a time.

/** What the retention job deletes; each kind has its own age (config `retention`). */
export type RetentionKind = 'events' | 'delivered' | 'dead' | 'pendingAcks' | 'media';

/** Deliveries go before events, so an event whose last dead delivery expires goes in the same pass. */
export const RETENTION_KINDS: readonly RetentionKind[] = [
  'delivered',
  'dead',
  'events',
  'pendingAcks',
  'media',
];

/** Batch deletes for the retention job (on the pool; never inside a long transaction). */
export interface RetentionRepo {
  /** Deletes at most `limit` rows of `kind` older than `before`; returns how many went. */
  deleteBatch(kind: RetentionKind, before: Date, limit: number): Promise<number>;
}
