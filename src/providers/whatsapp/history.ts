// WhatsApp history sync: stores what Baileys' `messaging-history.set` hands over, within the configured window.
import type { BaileysEventMap } from 'baileys';
import { scrubDeep } from '../../domain/text.js';
import type { HistoryStore } from '../../ports/history.js';
import type { HistoryProgress, ProviderMessage, SessionContext } from '../../ports/provider.js';
import { mapMessage } from './mapper.js';

/** One (possibly merged) history chunk as Baileys emits it. */
export type HistorySet = BaileysEventMap['messaging-history.set'];

/** Largest number of messages written in one statement (a chunk from a busy phone can hold thousands). */
const BATCH = 500;

/** Names of WhatsApp's `HistorySync.HistorySyncType` values (kept here: foreign enums stay in the provider). */
const SYNC_TYPES: Record<number, string> = {
  0: 'INITIAL_BOOTSTRAP',
  1: 'INITIAL_STATUS_V3',
  2: 'FULL',
  3: 'RECENT',
  4: 'PUSH_NAME',
  5: 'NON_BLOCKING_DATA',
  6: 'ON_DEMAND',
};

export interface HistoryImporterDeps {
  ctx: SessionContext;
  /** Where history goes; without it (contract runs) chunks are counted but not stored. */
  store?: HistoryStore;
  /** Keep messages up to this many days old (WHATSAPP_HISTORY_DAYS); 0 = take nothing. */
  days: number;
  saveContact(id: string, name: string | null, pn: string | null): Promise<void>;
  /** Current time in ms (tests fix it). */
  now?: () => number;
}

type Totals = NonNullable<HistoryProgress['totals']>;
const zero = (): Totals => ({ received: 0, stored: 0, duplicates: 0, too_old: 0, skipped: 0 });

/**
 * Turns history chunks into stored messages (idempotent by message id, never `message` events) and one
 * `history` fact per chunk, so the core can publish `history.progress` (and `history.synced` at 100 %).
 */
export class HistoryImporter {
  private totals = zero();

  constructor(private readonly deps: HistoryImporterDeps) {}

  /** Handles one `messaging-history.set`; `me` is the account JID. */
  async onSet(set: HistorySet, me: string | null): Promise<void> {
    const { ctx, days } = this.deps;
    if (days <= 0) return;
    const cutoff = (this.deps.now ?? Date.now)() - days * 86_400_000;
    const keep: ProviderMessage[] = [];
    let tooOld = 0;
    let skipped = 0;
    for (const m of set.messages) {
      const mapped = mapMessage(m, me);
      if (!mapped) skipped++;
      else if (Date.parse(mapped.timestamp) < cutoff) tooOld++;
      // Stored directly (not through the core's event ingest, which scrubs): text PostgreSQL refuses is replaced here.
      else keep.push(scrubDeep(mapped));
    }
    let stored = 0;
    let duplicates = 0;
    if (this.deps.store) {
      for (let i = 0; i < keep.length; i += BATCH) {
        const r = await this.deps.store.storeBatch(ctx.instanceId, keep.slice(i, i + BATCH));
        stored += r.stored;
        duplicates += r.duplicates;
      }
    }
    for (const c of set.contacts)
      await this.deps.saveContact(c.id, c.name ?? c.notify ?? null, c.phoneNumber ?? null);
    const chunk = {
      received: set.messages.length,
      stored,
      duplicates,
      too_old: tooOld,
      skipped,
    };
    for (const k of Object.keys(chunk) as Array<keyof Totals>) this.totals[k] += chunk[k];
    const progress = typeof set.progress === 'number' ? set.progress : null;
    const complete = progress === 100;
    const totals = this.totals;
    if (complete) this.totals = zero();
    await ctx.emit({
      type: 'history',
      sync_type: set.syncType != null ? (SYNC_TYPES[set.syncType] ?? String(set.syncType)) : 'unknown',
      progress,
      ...chunk,
      chats: set.chats.length,
      contacts: set.contacts.length,
      complete,
      ...(complete ? { totals } : {}),
    });
  }
}
