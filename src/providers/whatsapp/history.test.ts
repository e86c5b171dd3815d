// The history importer: the window (WHATSAPP_HISTORY_DAYS), what is skipped, per-chunk facts and sync totals.
import type { WAMessage } from 'baileys';
import { describe, expect, it } from 'vitest';
import type { ProviderEvent, ProviderMessage, SessionContext } from '../../ports/provider.js';
import { HistoryImporter, type HistorySet } from './history.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const ME = '15550001111@s.whatsapp.net';
const text = (id: string, daysAgo: number): WAMessage => ({
  key: { remoteJid: '4915100000001@s.whatsapp.net', fromMe: false, id },
  message: { conversation: `text ${id}` },
  messageTimestamp: Math.floor(NOW / 1000) - daysAgo * 86_400,
});
const set = (messages: WAMessage[], progress?: number): HistorySet =>
  ({ messages, chats: [], contacts: [], syncType: 3, progress, lidPnMappings: [] }) as unknown as HistorySet;

function harness(days: number) {
  const events: ProviderEvent[] = [];
  const stored: ProviderMessage[][] = [];
  const seen = new Set<string>();
  const ctx = {
    instanceId: 'i1',
    emit: async (e: ProviderEvent) => void events.push(e),
  } as unknown as SessionContext;
  const importer = new HistoryImporter({
    ctx,
    days,
    now: () => NOW,
    saveContact: async () => {},
    store: {
      storeBatch: async (_id, batch) => {
        stored.push([...batch]);
        const fresh = batch.filter((m) => !seen.has(m.message_id));
        for (const m of fresh) seen.add(m.message_id);
        return { stored: fresh.length, duplicates: batch.length - fresh.length };
      },
    },
  });
  return { importer, events, stored };
}

describe('HistoryImporter', () => {
  it('keeps messages inside the window, counts the rest, and sums a sync until 100 %', async () => {
    const h = harness(7);
    const stub: WAMessage = {
      key: { remoteJid: ME, fromMe: true, id: 'P1' },
      message: { protocolMessage: {} },
    };
    await h.importer.onSet(set([text('A', 1), text('OLD', 8), stub], 40), ME);
    await h.importer.onSet(set([text('A', 1), text('B', 6.9)], 100), ME);
    expect(h.stored.map((b) => b.map((m) => m.message_id))).toEqual([['A'], ['A', 'B']]);
    expect(h.events).toEqual([
      expect.objectContaining({ type: 'history', sync_type: 'RECENT', progress: 40, received: 3, stored: 1 }),
      expect.objectContaining({ progress: 100, received: 2, stored: 1, duplicates: 1, complete: true }),
    ]);
    expect(h.events[0]).toMatchObject({ too_old: 1, skipped: 1, complete: false });
    expect(h.events[1]).toMatchObject({
      totals: { received: 5, stored: 2, duplicates: 1, too_old: 1, skipped: 1 },
    });
    // a later sync starts its totals afresh
    await h.importer.onSet(set([text('C', 0)], 100), ME);
    expect(h.events[2]).toMatchObject({ totals: { received: 1, stored: 1 } });
  });

  it('text PostgreSQL refuses (U+0000, lone surrogates) is scrubbed before it is stored', async () => {
    const h = harness(7);
    const m = text('NUL', 0);
    m.message = { conversation: 'a\u0000b\ud800c' };
    m.pushName = 'x\u0000y';
    await h.importer.onSet(set([m], 100), ME);
    expect(h.stored[0]![0]).toMatchObject({ body: 'a\ufffdb\ufffdc', contact_name: 'x\ufffdy' });
  });

  it('WHATSAPP_HISTORY_DAYS=0 takes nothing and reports nothing', async () => {
    const h = harness(0);
    await h.importer.onSet(set([text('A', 0)], 100), ME);
    expect(h.stored).toEqual([]);
    expect(h.events).toEqual([]);
  });
});
