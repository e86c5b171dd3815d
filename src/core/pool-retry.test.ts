// Issue #19: a free pooled instance whose session keeps ending is opened again every FREE_RETRY_MS until it shows
// a QR, also when the provider reports the same end status again (which publishes no new event).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import type { ProviderEvent } from '../ports/provider.js';

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({
    env: {
      POOL_ENABLED: 'on',
      POOL_SIZE: '1',
      POOL_MIN_FREE: '0',
      POOL_REFILL: '1',
      SESSION_PROVIDER: 'simulator',
    },
  });
  await t.gw.pool.fill();
}, 120_000);
afterAll(() => t?.close());

/**
 * The local supervisor's live sessions and the door a provider's facts come in by (what its `emit` calls:
 * core/session-events.ts); the gateway wraps the local supervisor in the forwarding decorator.
 */
interface SupervisorInside {
  sessions: Map<string, { session: { stop(): Promise<void> } }>;
  events: { emit(live: unknown, event: ProviderEvent): Promise<void> };
}
const localSupervisor = (sv: unknown): SupervisorInside =>
  ((sv as { local?: unknown }).local ?? sv) as SupervisorInside;

describe('pool retries of a free instance', () => {
  it('a free instance that ends again with the same status is retried again, until it shows a QR', async () => {
    const [id] = await t.gw.store.pool.freeIds();
    const ready = async () => (await t.gw.store.instances.get(id))?.auth_status === 'qr_ready';
    await eventually(ready);
    const sv = localSupervisor(t.gw.supervisor);
    const first = sv.sessions.get(id)!;
    // The next session the pool opens is held before it shows a QR.
    let open: () => void = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const delay = t.network.delay.bind(t.network);
    t.network.delay = () => gate;
    // The provider says the login ended (a QR that expired, a WAHA session STOPPED): the pool retries in 5 s.
    await sv.events.emit(first, { type: 'auth', auth_status: 'disconnected', reason: 'qr expired' });
    const second = await eventually(() => {
      const live = sv.sessions.get(id);
      return live && live !== first ? live : null;
    }, 15_000);
    // Its provider is gone before any QR (the stop's `disconnected` is carried over while it opens)...
    await second.session.stop();
    t.network.delay = delay;
    open();
    await eventually(async () => (await t.gw.store.instances.get(id))?.status === 'running');
    // ...and it reports the same end again: the row already says `disconnected`, so no event tells the pool.
    const since = await t.gw.store.events.latestId();
    await sv.events.emit(second, { type: 'auth', auth_status: 'disconnected', reason: 'qr expired' });
    expect(await t.gw.store.events.listSince({ since, limit: 10, instance_id: id })).toEqual([]);
    // The pool's cadence opens it once more, and this session shows its QR.
    const inst = await eventually(async () => {
      const i = await t.gw.store.instances.get(id);
      return i?.auth_status === 'qr_ready' && i.status === 'running' ? i : null;
    }, 20_000);
    expect(inst).toMatchObject({ assigned_to: null, auth_status: 'qr_ready', status: 'running' });
    expect(sv.sessions.get(id)).not.toBe(second);
  }, 60_000);
});
