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
    expect(g.stats).toMatchObject({ flushes: 2, items: 5, largest: 3 });
    expect(g.stats.flushMs).toBeGreaterThan(0);
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

  it('with a dedupe key, equal waiting items share one place and one result; an equal of a running one waits', async () => {
    const r = recorder();
    const g = new GroupCommitter(r.flush, { key: (x: string) => x });
    r.holdNext();
    const running = g.submit('a');
    await Promise.resolve();
    const later = [g.submit('a'), g.submit('b'), g.submit('a'), g.submit('b')];
    expect(g.waiting).toBe(2);
    r.release();
    expect(await Promise.all([running, ...later])).toEqual(['a!', 'a!', 'b!', 'a!', 'b!']);
    expect(r.batches).toEqual([['a'], ['a', 'b']]);
  });

  it('equal items sharing a place share its error too', async () => {
    const r = recorder(() => new Error('refused'));
    const g = new GroupCommitter(r.flush, { key: (x: string) => x });
    const results = await Promise.allSettled([g.submit('a'), g.submit('a')]);
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(r.batches).toEqual([['a']]);
  });

  it('without retryAlone a failed batch rejects all its items, and the next batch still runs', async () => {
    const r = recorder((items) => (items.includes('bad') ? new Error('refused') : null));
    const g = new GroupCommitter(r.flush, { retryAlone: false });
    r.holdNext();
    const first = g.submit('x');
    await Promise.resolve();
    const bad = ['a', 'bad'].map((x) => g.submit(x));
    r.release();
    expect(await first).toBe('x!');
    const results = await Promise.allSettled(bad);
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    expect(await g.submit('c')).toBe('c!');
    expect(r.batches).toEqual([['x'], ['a', 'bad'], ['c']]);
  });

  it('startAtOnce flushes a lone item inside submit; items of the same tick wait for the next flush', async () => {
    const r = recorder();
    const g = new GroupCommitter(r.flush, { startAtOnce: true });
    const all = [g.submit('a'), g.submit('b'), g.submit('c')];
    expect(r.batches).toEqual([['a']]);
    await Promise.all(all);
    expect(r.batches).toEqual([['a'], ['b', 'c']]);
  });

  it('busy and whenIdle follow the running flush and the waiting items', async () => {
    const r = recorder();
    const g = new GroupCommitter(r.flush);
    expect(g.busy).toBe(false);
    await g.whenIdle();
    r.holdNext();
    const a = g.submit('a');
    expect(g.busy).toBe(true);
    let idle = false;
    void g.whenIdle().then(() => {
      idle = true;
    });
    await Promise.resolve();
    const b = g.submit('b');
    r.release();
    await a;
    expect(idle).toBe(false);
    await b;
    await g.whenIdle();
    expect(idle).toBe(true);
    expect(g.busy).toBe(false);
  });
});
