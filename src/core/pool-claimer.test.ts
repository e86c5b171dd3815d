// The group commit of pool claims: one batch at a time, claims arriving meanwhile share the next batch.
import { describe, expect, it } from 'vitest';
import { type ClaimOutcome, PoolClaimer } from './pool-claimer.js';

/** A claim batch the test settles by hand; records each batch's companies. */
function manualBatches() {
  const batches: string[][] = [];
  const pending: Array<{ resolve(m: Map<string, ClaimOutcome<string>>): void; reject(e: unknown): void }> =
    [];
  const run = (ids: string[]) =>
    new Promise<Map<string, ClaimOutcome<string>>>((resolve, reject) => {
      batches.push(ids);
      pending.push({ resolve, reject });
    });
  const claimedAll = (ids: string[]) =>
    new Map(ids.map((id) => [id, { kind: 'claimed', instance: `inst-of-${id}` } as const]));
  return { batches, pending, run, claimedAll };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('pool claimer', () => {
  it('runs one batch at a time; claims arriving meanwhile share the next one', async () => {
    const m = manualBatches();
    const claimer = new PoolClaimer(m.run);
    const a = claimer.claim('a');
    await tick();
    const rest = ['b', 'c', 'd'].map((c) => claimer.claim(c));
    await tick();
    expect(m.batches).toEqual([['a']]);
    m.pending[0].resolve(m.claimedAll(['a']));
    expect(await a).toEqual({ kind: 'claimed', instance: 'inst-of-a' });
    await tick();
    expect(m.batches).toEqual([['a'], ['b', 'c', 'd']]);
    m.pending[1].resolve(m.claimedAll(['b', 'c', 'd']));
    expect(await Promise.all(rest)).toEqual(
      ['b', 'c', 'd'].map((c) => ({ kind: 'claimed', instance: `inst-of-${c}` })),
    );
    await claimer.idle();
    expect(claimer.busy).toBe(false);
  });

  it("one company's queued claims share one place in the batch and its outcome", async () => {
    const m = manualBatches();
    const claimer = new PoolClaimer(m.run);
    const first = claimer.claim('x');
    await tick();
    const twice = [claimer.claim('a'), claimer.claim('a'), claimer.claim('b')];
    m.pending[0].resolve(m.claimedAll(['x']));
    await first;
    await tick();
    expect(m.batches[1]).toEqual(['a', 'b']);
    m.pending[1].resolve(m.claimedAll(['a', 'b']));
    const [a1, a2] = await Promise.all(twice);
    expect(a1).toEqual(a2);
  });

  it('caps a batch; a failed batch rejects its own claims only and the next batch still runs', async () => {
    const m = manualBatches();
    const claimer = new PoolClaimer(m.run, 2);
    // The first claim runs at once, alone (no claim waits for company); the others queue behind it.
    const first = claimer.claim('x');
    const claims = ['a', 'b', 'c'].map((c) => claimer.claim(c));
    await tick();
    expect(m.batches).toEqual([['x']]);
    m.pending[0].resolve(m.claimedAll(['x']));
    await first;
    await tick();
    expect(m.batches[1]).toEqual(['a', 'b']);
    m.pending[1].reject(new Error('database down'));
    await expect(claims[0]).rejects.toThrow('database down');
    await expect(claims[1]).rejects.toThrow('database down');
    await tick();
    expect(m.batches[2]).toEqual(['c']);
    // A batch that forgets a company rejects that company's claim rather than leaving it waiting.
    m.pending[2].resolve(new Map());
    await expect(claims[2]).rejects.toThrow('no outcome for company c');
  });

  it('idle waits for the running batch and the queued ones', async () => {
    const m = manualBatches();
    const claimer = new PoolClaimer(m.run);
    let idle = false;
    void claimer.claim('a');
    void claimer.idle().then(() => {
      idle = true;
    });
    await tick();
    void claimer.claim('b');
    m.pending[0].resolve(m.claimedAll(['a']));
    await tick();
    await tick();
    expect(idle).toBe(false);
    m.pending[1].resolve(m.claimedAll(['b']));
    await claimer.idle();
    expect(idle).toBe(true);
  });
});
