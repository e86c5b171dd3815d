// The disk spool: synced appends, replay in order, limits, a torn tail after a crash, reopening what was left.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spoolRecord, useTempSpoolDirs } from '../../../test/support/spool.js';
import { openFileSpool } from './file-spool.js';

const rec = spoolRecord;

const tempDir = useTempSpoolDirs();

describe('file spool', () => {
  it('creates nothing until the first append, then replays in order and removes what it replayed', async () => {
    const dir = tempDir();
    const spool = openFileSpool({ dir, maxBytes: 1 << 20, maxMessages: 100 });
    expect(spool.pending).toBe(0);
    expect(() => readdirSync(dir)).toThrow();
    for (let i = 0; i < 5; i++) await spool.append(rec(i));
    expect(spool.pending).toBe(5);
    expect(spool.bytes).toBeGreaterThan(0);
    const seen: string[] = [];
    expect(await spool.replay(async (r) => void seen.push(r.message.message_id))).toBe(5);
    expect(seen).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(spool.pending).toBe(0);
    expect(spool.bytes).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    await spool.close();
  });

  it('stops at the first failing record and resumes there, keeping appends made meanwhile after it', async () => {
    const spool = openFileSpool({ dir: tempDir(), maxBytes: 1 << 20, maxMessages: 100 });
    for (let i = 0; i < 4; i++) await spool.append(rec(i));
    const seen: string[] = [];
    await expect(
      spool.replay(async (r) => {
        if (r.message.message_id === 'm2') throw new Error('database down');
        seen.push(r.message.message_id);
      }),
    ).rejects.toThrow('database down');
    expect(spool.pending).toBe(2);
    await spool.append(rec(4));
    expect(await spool.replay(async (r) => void seen.push(r.message.message_id))).toBe(3);
    expect(seen).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(spool.pending).toBe(0);
    await spool.close();
  });

  it('refuses appends beyond its message and byte limits with SB_ERR_SPOOL_FULL', async () => {
    const byCount = openFileSpool({ dir: tempDir(), maxBytes: 1 << 20, maxMessages: 2 });
    await byCount.append(rec(0));
    await byCount.append(rec(1));
    await expect(byCount.append(rec(2))).rejects.toMatchObject({ code: 'SB_ERR_SPOOL_FULL' });
    expect(byCount.pending).toBe(2);
    await byCount.close();

    const one = Buffer.byteLength(`${JSON.stringify(rec(0))}\n`);
    const byBytes = openFileSpool({ dir: tempDir(), maxBytes: one * 2 + 10, maxMessages: 100 });
    await byBytes.append(rec(0));
    await byBytes.append(rec(1));
    await expect(byBytes.append(rec(2))).rejects.toMatchObject({ code: 'SB_ERR_SPOOL_FULL' });
    // Replaying frees the space again.
    await byBytes.replay(async () => {});
    await byBytes.append(rec(2));
    expect(byBytes.pending).toBe(1);
    await byBytes.close();
  });

  it('a new process finds what an earlier one left, skipping a torn last line (a write never acknowledged)', async () => {
    const dir = tempDir();
    const first = openFileSpool({ dir, maxBytes: 1 << 20, maxMessages: 100 });
    await first.append(rec(0));
    await first.append(rec(1));
    // No close: the process "dies" here. Then a torn write at the end of its segment.
    const [seg] = readdirSync(dir);
    writeFileSync(join(dir, seg!), '{"instance_id":"i1","mess', { flag: 'a' });
    const corrupt: number[] = [];
    const second = openFileSpool({
      dir,
      maxBytes: 1 << 20,
      maxMessages: 100,
      onCorrupt: (_f, line) => corrupt.push(line),
    });
    expect(second.pending).toBe(2);
    expect(corrupt).toEqual([3]);
    await second.append(rec(2));
    const seen: string[] = [];
    await second.replay(async (r) => void seen.push(r.message.message_id));
    expect(seen).toEqual(['m0', 'm1', 'm2']);
    expect(readdirSync(dir)).toEqual([]);
    await second.close();
    await first.close();
  });
});
