// The event-log tail: every event once, in id order, waiting for an id that commits late; cluster config checks.
import { describe, expect, it } from 'vitest';
import { eventually } from '../../test/support/gateway.js';
import { ConfigError, loadConfig } from '../config/index.js';
import type { GatewayEvent } from '../domain/model.js';
import type { Store } from '../ports/store.js';
import { LogTailEventBus } from './log-tail-event-bus.js';

const ev = (id: number): GatewayEvent => ({
  id,
  type: 'message',
  instance_id: null,
  company_id: 'c1',
  created_at: new Date().toISOString(),
  data: {},
});

/**
 * A log whose visible rows the test controls (an id missing = a transaction not committed yet); `read` counts the
 * rows each read returned, as the database would send them.
 */
function fakeStore(rows: GatewayEvent[], read: number[] = []): Store {
  return {
    events: {
      latestId: async () => 0,
      listSince: async (f: { since: number; limit: number; exclude?: readonly number[] }) => {
        const page = rows
          .filter((e) => e.id > f.since && !f.exclude?.includes(e.id))
          .sort((a, b) => a.id - b.id)
          .slice(0, f.limit);
        read.push(...page.map((e) => e.id));
        return page;
      },
    },
  } as unknown as Store;
}

describe('LogTailEventBus', () => {
  it('delivers each committed event once, including one that commits after a higher id', async () => {
    const rows = [ev(1), ev(3)];
    const bus = new LogTailEventBus(fakeStore(rows), { pollMs: 10, gapWaitMs: 60_000 }, () => {});
    const seen: number[] = [];
    const local: number[] = [];
    bus.subscribe((e) => seen.push(e.id));
    bus.subscribeLocal((e) => local.push(e.id));
    await bus.start();
    await eventually(() => seen.length === 2);
    rows.push(ev(2));
    bus.publish([ev(2)]);
    await eventually(() => seen.length === 3);
    rows.push(ev(4));
    await eventually(() => seen.length === 4);
    // Give the tail a few more rounds: nothing is delivered twice.
    await new Promise((r) => setTimeout(r, 100));
    await bus.stop();
    expect(seen).toEqual([1, 3, 2, 4]);
    expect(local).toEqual([2]);
  });

  it("does not read back this replica's own events, and still delivers them with the others' in id order", async () => {
    const rows = [ev(1)];
    const read: number[] = [];
    const bus = new LogTailEventBus(fakeStore(rows, read), { pollMs: 600_000, gapWaitMs: 60_000 }, () => {});
    const seen: number[] = [];
    bus.subscribe((e) => seen.push(e.id));
    await bus.start();
    bus.poke();
    await eventually(() => seen.length === 1);
    // Another replica committed 3; this one committed 2 and 4 and publishes them.
    const mine = [ev(2), ev(4)];
    rows.push(ev(3), ...mine);
    read.length = 0;
    bus.publish(mine);
    await eventually(() => seen.length === 4);
    await bus.stop();
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(read).toEqual([3]);
  });

  it('delivers a local batch that continues the log at once, without reading the log', async () => {
    const rows = [ev(1)];
    const read: number[] = [];
    let reads = 0;
    const store = fakeStore(rows, read);
    const listSince = store.events.listSince.bind(store.events);
    store.events.listSince = (f) => {
      reads++;
      return listSince(f);
    };
    const bus = new LogTailEventBus(store, { pollMs: 600_000, gapWaitMs: 60_000 }, () => {});
    const seen: number[] = [];
    bus.subscribe((e) => seen.push(e.id));
    await bus.start();
    bus.poke();
    await eventually(() => seen.length === 1);
    const before = reads;
    // 2 and 3 follow the last delivered id: no other replica's event can sit between them.
    rows.push(ev(2), ev(3));
    bus.publish([ev(3), ev(2)]);
    expect(seen).toEqual([1, 2, 3]);
    await new Promise((r) => setTimeout(r, 50));
    expect(reads).toBe(before);
    // 5 does not (4 is another replica's): the log is read for 4, and 5 follows it.
    rows.push(ev(4), ev(5));
    bus.publish([ev(5)]);
    await eventually(() => seen.length === 5);
    await bus.stop();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(reads).toBeGreaterThan(before);
  });

  it('gives up on a hole after gapWaitMs and keeps tailing', async () => {
    const rows = [ev(1), ev(3)];
    const bus = new LogTailEventBus(fakeStore(rows), { pollMs: 10, gapWaitMs: 50 }, () => {});
    const seen: number[] = [];
    bus.subscribe((e) => seen.push(e.id));
    await bus.start();
    await eventually(() => seen.length === 2);
    await new Promise((r) => setTimeout(r, 150));
    rows.push(ev(2)); // too late: the tail moved on (clients resuming with ?since read it from the log)
    rows.push(ev(5));
    await eventually(() => seen.includes(5));
    await bus.stop();
    expect(seen).toEqual([1, 3, 5]);
  });
});

describe('cluster configuration', () => {
  it('defaults to a single process with a random replica id', () => {
    const c = loadConfig({});
    expect(c.cluster).toMatchObject({ enabled: false, leaseRenewMs: 3000, leaseTtlMs: 10_000 });
    expect(c.cluster.replicaId).toMatch(/^r-[0-9a-f]{10}$/);
    expect(c.redisUrl).toBeUndefined();
  });

  it('reads the cluster variables and refuses a TTL shorter than two renewals', () => {
    const c = loadConfig({
      CLUSTER_MODE: 'on',
      REPLICA_ID: 'pod-1',
      LEASE_RENEW_MS: '500',
      LEASE_TTL_MS: '3000',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    expect(c.cluster).toMatchObject({
      enabled: true,
      replicaId: 'pod-1',
      leaseRenewMs: 500,
      leaseTtlMs: 3000,
    });
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(() => loadConfig({ LEASE_RENEW_MS: '3000', LEASE_TTL_MS: '4000' })).toThrow(ConfigError);
    expect(() => loadConfig({ REPLICA_ID: 'has space' })).toThrow(/REPLICA_ID/);
    expect(() => loadConfig({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
  });
});
