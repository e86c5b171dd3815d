// Group commit batching: a lone item at once, the next batch collects during a flush, bad items fail alone.
import { describe, expect, it } from 'vitest';
import { SbError } from '../domain/errors.js';
import { GroupCommitter } from './group-commit.js';

/** A flush that records its batches and can be held open by the test. */
function recorder(fail: (items: readonly string[]) => unknown = () => null) {
  const batches: string[][] = [];
  let hold: Promise<void> | null = null;
  let release = () => {};
  const flush = async (items: readonly string[]) => {
    batches.push([...items]);
    if (hold) await hold;
    const err = fail(items);
    if (err) throw err;
    return items.map((x) => `${x}!`);
  };
  return {
    batches,
    flush,
    holdNext() {
      hold = new Promise<void>((r) => {
        release = () => {
          hold = null;
          r();
        };
      });
    },
    release: () => release(),
  };
}

describe('group commit', () => {
  it('flushes a lone item at once, without waiting for company', async () => {
    const r = recorder();
    const g = new GroupCommitter(r.flush);
    expect(await g.submit('a')).toBe('a!');
    expect(r.batches).toEqual([['a']]);
    await g.submit('b');
    expect(r.batches).toEqual([['a'], ['b']]);
  });

  it('puts items of the same tick into one flush and collects the next batch while a flush runs', async () => {
    const r = recorder();
    const g = new GroupCommitter(r.flush);
    r.holdNext();
    const first = [g.submit('a'), g.submit('b')];
    await Promise.resolve();
    await Promise.resolve();
    expect(r.batches).toEqual([['a', 'b']]);
    const later = [g.submit('c'), g.submit('d'), g.submit('e')];
    expect(g.waiting).toBe(3);
    r.release();
    expect(await Promise.all([...first, ...later])).toEqual(['a!', 'b!', 'c!', 'd!', 'e!']);
    expect(r.batches).toEqual([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);
    expect(g.stats).toEqual({ flushes: 2, items: 5, largest: 3 });
  });

  it('never puts more than maxBatch items in one flush, in submission order', async () => {
    const r = recorder();
    const g = new GroupCommitter(r.flush, { maxBatch: 2 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => g.submit(x)));
    expect(r.batches).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('retries a refused batch one item at a time so only the bad item fails', async () => {
    const r = recorder((items) => (items.includes('bad') ? new Error('refused') : null));
    const g = new GroupCommitter(r.flush);
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((x) => g.submit(x)));
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(r.batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('fails every item of a batch at once when the database is unavailable (the caller spools them)', async () => {
    const r = recorder(() => new SbError('SB_ERR_UNAVAILABLE', 'the database is unavailable'));
    const g = new GroupCommitter(r.flush);
    const results = await Promise.allSettled(['a', 'b'].map((x) => g.submit(x)));
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(r.batches).toEqual([['a', 'b']]);
  });
});
