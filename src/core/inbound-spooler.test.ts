// Inbound writes while the database fails: retried, then spooled durably, replayed in order once it is back.
import { afterEach, describe, expect, it } from 'vitest';
import { spoolRecord, useTempSpoolDirs } from '../../test/support/spool.js';
import { SbError } from '../domain/errors.js';
import type { ProviderLogger } from '../ports/provider.js';
import type { SpoolRecord } from '../ports/spool.js';
import { openFileSpool } from '../runtime/spool/file-spool.js';
import { InboundSpooler } from './inbound-spooler.js';

const rec = spoolRecord;

const down = () => new SbError('SB_ERR_UNAVAILABLE', 'the database is unavailable');

/** A "database" whose availability the test switches; stores ids in commit order, once each. */
function fakeDb() {
  const db = { up: true, stored: [] as string[], calls: 0 };
  const commit = async (r: SpoolRecord) => {
    db.calls++;
    if (!db.up) throw down();
    if (!db.stored.includes(r.message.message_id)) db.stored.push(r.message.message_id);
  };
  return { db, commit };
}

const logs: Array<{ level: string; msg?: string }> = [];
const logger: ProviderLogger = {
  debug: () => {},
  info: (_o, msg) => logs.push({ level: 'info', msg }),
  warn: (_o, msg) => logs.push({ level: 'warn', msg }),
  error: (_o, msg) => logs.push({ level: 'error', msg }),
};

const spoolDir = useTempSpoolDirs();
afterEach(() => {
  logs.length = 0;
});

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('inbound spooler', () => {
  it('retries a commit that fails with SB_ERR_UNAVAILABLE and stores it without spooling when it recovers', async () => {
    const { db, commit } = fakeDb();
    let failures = 2;
    const spool = openFileSpool({ dir: spoolDir(), maxBytes: 1 << 20, maxMessages: 10 });
    const s = new InboundSpooler({
      spool,
      logger,
      retryDelaysMs: [5, 5, 5],
      commit: async (r) => {
        if (failures-- > 0) throw down();
        return commit(r);
      },
    });
    await s.write(rec(1));
    expect(db.stored).toEqual(['m1']);
    expect(spool.pending).toBe(0);
    await s.stop();
  });

  it('spools while the database stays down, keeps newer messages behind older ones, replays all in order', async () => {
    const { db, commit } = fakeDb();
    const counts = { spooled: 0, replayed: 0, dropped: 0 };
    const spool = openFileSpool({ dir: spoolDir(), maxBytes: 1 << 20, maxMessages: 100 });
    const s = new InboundSpooler({
      spool,
      commit,
      logger,
      retryDelaysMs: [5, 5],
      replayBackoffMs: { min: 10, max: 20 },
      observer: { onSpool: (r) => counts[r]++ },
    });
    await s.write(rec(1));
    db.up = false;
    await s.write(rec(2));
    await s.write(rec(3));
    expect(db.stored).toEqual(['m1']);
    expect(s.pending).toBe(2);
    expect(counts.spooled).toBe(2);
    expect(logs.filter((l) => l.msg?.includes('spooling')).length).toBe(1);
    db.up = true;
    // A message arriving while older ones still wait goes behind them, not ahead.
    await s.write(rec(4));
    await until(() => s.pending === 0);
    expect(db.stored).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(counts).toEqual({ spooled: 3, replayed: 3, dropped: 0 });
    await s.stop();
  });

  it('replays at start what an earlier process spooled (a crash after the provider was answered)', async () => {
    const dir = spoolDir();
    const first = fakeDb();
    first.db.up = false;
    const before = new InboundSpooler({
      spool: openFileSpool({ dir, maxBytes: 1 << 20, maxMessages: 100 }),
      commit: first.commit,
      logger,
      retryDelaysMs: [],
      replayBackoffMs: { min: 60_000, max: 60_000 },
    });
    await before.write(rec(1));
    await before.write(rec(2));
    // The process dies here: nothing is closed or replayed.
    const { db, commit } = fakeDb();
    const after = new InboundSpooler({
      spool: openFileSpool({ dir, maxBytes: 1 << 20, maxMessages: 100 }),
      commit,
      logger,
    });
    expect(after.pending).toBe(2);
    await after.start();
    expect(db.stored).toEqual(['m1', 'm2']);
    expect(after.pending).toBe(0);
    await after.stop();
    await before.stop();
  });

  it('a full spool refuses the message (SB_ERR_SPOOL_FULL), counts it as dropped and logs an error', async () => {
    const { db, commit } = fakeDb();
    db.up = false;
    const counts = { spooled: 0, replayed: 0, dropped: 0 };
    const s = new InboundSpooler({
      spool: openFileSpool({ dir: spoolDir(), maxBytes: 1 << 20, maxMessages: 1 }),
      commit,
      logger,
      retryDelaysMs: [],
      replayBackoffMs: { min: 60_000, max: 60_000 },
      observer: { onSpool: (r) => counts[r]++ },
    });
    await s.write(rec(1));
    await expect(s.write(rec(2))).rejects.toMatchObject({ code: 'SB_ERR_SPOOL_FULL' });
    expect(counts).toEqual({ spooled: 1, replayed: 0, dropped: 1 });
    expect(logs.some((l) => l.level === 'error' && l.msg?.includes('spool is full'))).toBe(true);
    await s.stop();
  });

  it('an error that is not an outage is not spooled: it fails the write as before', async () => {
    const spool = openFileSpool({ dir: spoolDir(), maxBytes: 1 << 20, maxMessages: 10 });
    const s = new InboundSpooler({
      spool,
      logger,
      commit: async () => {
        throw new Error('violates check constraint');
      },
    });
    await expect(s.write(rec(1))).rejects.toThrow('violates check constraint');
    expect(spool.pending).toBe(0);
    await s.stop();
  });
});
