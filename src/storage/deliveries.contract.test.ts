// Storage contract for webhook/agent/sink endpoints and the delivery outbox (claims, outcomes, replays), both drivers.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeOnBackends, seedEndpoint } from '../../test/support/db.js';
import {
  type ClaimedDelivery,
  claimCursor,
  type NewEndpoint,
  queuedDeliveries,
  type WebhookEndpoint,
} from '../ports/deliveries.js';
import type { Store } from '../ports/store.js';

const LATER = new Date(Date.now() + 3_600_000);
/** A claim time after every delivery created by the test so far (they are due at their insert time). */
const soon = () => new Date(Date.now() + 1_000);

describeOnBackends('deliveries repository', (db) => {
  let store: Store;
  let seq = 0;
  /** A fresh company (events of one test never reach another test's endpoints). */
  const company = async () => {
    const id = `dc${++seq}`;
    await store.companies.ensure(id);
    return id;
  };
  /** Endpoints made by the running test, disabled after it so its leftovers are not claimed by the next one. */
  let made: string[] = [];
  const endpoint = async (company_id: string, over: Partial<NewEndpoint> = {}) => {
    const ep = await seedEndpoint(store, { company_id, ...over });
    made.push(ep.id);
    return ep;
  };
  /** Appends `n` events of company `co` (chat `chat(i)`), in batches; each gets one delivery per matching endpoint. */
  const events = async (co: string, n: number, chat: (i: number) => string | null, type = 'msg') => {
    for (let from = 0; from < n; from += 500) {
      const batch = Array.from({ length: Math.min(500, n - from) }, (_, k) => {
        const c = chat(from + k);
        return {
          type,
          instance_id: null,
          company_id: co,
          data: c === null ? { n: from + k } : { message: { chat_id: c, n: from + k } },
        };
      });
      await store.events.appendMany(batch);
    }
  };
  const claim = (limit: number, caps?: Parameters<Store['deliveries']['claim']>[3], now = soon()) =>
    store.tx((tx) => tx.deliveries.claim(now, LATER, limit, caps));
  /** Claims until nothing is left, delivering each claim at once; returns the claims in order. */
  const drain = async (limit: number, caps = { perEndpoint: 1000 }) => {
    const all: ClaimedDelivery[] = [];
    for (;;) {
      const got = await claim(limit, caps);
      if (!got.length) return all;
      all.push(...got);
      await store.deliveries.recordDelivered(
        got.map((c) => ({ id: c.delivery.id, code: 200, excerpt: null })),
        new Date(),
      );
    }
  };
  const ofEndpoint = (cs: ClaimedDelivery[], ep: WebhookEndpoint) =>
    cs.filter((c) => c.endpoint.id === ep.id);

  beforeAll(async () => {
    store = db.store;
  });
  afterEach(async () => {
    for (const id of made) await store.deliveries.disable(id, 'test over');
    made = [];
  });

  describe('endpoints', () => {
    it('inserts, reads, lists, updates and deletes endpoints, scoped by company and instance', async () => {
      const co = await company();
      const other = await company();
      const inst = await store.instances.create({
        company_id: co,
        provider: 'simulator',
        name: null,
        type_instance: ['api'],
        settings: {},
        mcp_schema: {},
        desired_state: 'stopped',
      });
      const wide = await endpoint(co, { events: ['message.received'], options: { a: 1 } });
      expect(wide).toMatchObject({
        company_id: co,
        instance_id: null,
        kind: 'webhook',
        events: ['message.received'],
        inbound_only: false,
        include_groups: true,
        enabled: true,
        options: { a: 1 },
        credentials: null,
        failing_since: null,
      });
      const hook = await endpoint(co, { instance_id: inst.id, inbound_only: true, include_groups: false });
      const agent = await endpoint(co, { instance_id: inst.id, kind: 'agent' });
      const sink = await endpoint(co, { kind: 'rabbitmq', url: 'amqp://127.0.0.1/', credentials: '{"u":1}' });
      await endpoint(other);

      expect(await store.deliveries.getEndpoint(wide.id)).toEqual(wide);
      expect(await store.deliveries.getEndpoint('not-a-uuid')).toBeNull();
      expect(await store.deliveries.getEndpoint('00000000-0000-0000-0000-000000000000')).toBeNull();
      expect((await store.deliveries.instanceEndpoint(inst.id, 'agent'))?.id).toBe(agent.id);
      expect(await store.deliveries.instanceEndpoint(inst.id, 'nats')).toBeNull();
      // An instance holds one endpoint per kind.
      await expect(endpoint(co, { instance_id: inst.id })).rejects.toThrow();

      const ids = (eps: WebhookEndpoint[]) => eps.map((e) => e.id);
      expect(ids(await store.deliveries.listEndpoints({ instance_id: inst.id }))).toEqual([
        hook.id,
        agent.id,
      ]);
      expect(ids(await store.deliveries.listEndpoints({ instance_id: inst.id }, ['agent']))).toEqual([
        agent.id,
      ]);
      expect(ids(await store.deliveries.listEndpoints({ company_id: co }))).toEqual([wide.id]);
      expect(ids(await store.deliveries.listEndpoints({ company_id: co }, ['rabbitmq']))).toEqual([sink.id]);
      expect(ids(await store.deliveries.listCompanyEndpoints(co, ['webhook', 'agent']))).toEqual(
        [wide.id, hook.id, agent.id].sort((x, y) => {
          const at = (id: string) => [wide, hook, agent].find((e) => e.id === id)!.created_at;
          return at(x).localeCompare(at(y)) || x.localeCompare(y);
        }),
      );

      const until = new Date(Date.now() + 60_000).toISOString();
      const changed = await store.deliveries.updateEndpoint(wide.id, {
        url: 'http://127.0.0.1:9/other',
        options: { b: 2 },
        previous_secret: 'whsec_old',
        previous_expires_at: until,
        enabled: undefined,
      });
      expect(changed).toMatchObject({
        url: 'http://127.0.0.1:9/other',
        options: { b: 2 },
        previous_secret: 'whsec_old',
        previous_expires_at: until,
        enabled: true,
        events: ['message.received'],
      });
      expect(Date.parse(changed!.updated_at)).toBeGreaterThanOrEqual(Date.parse(wide.updated_at));
      expect(
        await store.deliveries.updateEndpoint('00000000-0000-0000-0000-000000000000', { url: 'x' }),
      ).toBeNull();

      expect(await store.deliveries.deleteEndpoint(hook.id)).toBe(true);
      expect(await store.deliveries.deleteEndpoint(hook.id)).toBe(false);
      expect(await store.deliveries.getEndpoint(hook.id)).toBeNull();
    });

    it('notes failures once, clears them when a delivery succeeds, and disables an endpoint once', async () => {
      const co = await company();
      const ep = await endpoint(co);
      const quiet = await endpoint(co, { events: ['other'] });
      await events(co, 1, () => 'c1');
      const t1 = new Date('2026-01-01T00:00:00.000Z');
      expect((await store.deliveries.noteFailure(ep.id, t1)).toISOString()).toBe(t1.toISOString());
      // Already failing: the first time stays.
      expect(
        (await store.deliveries.noteFailure(ep.id, new Date('2026-01-02T00:00:00Z'))).toISOString(),
      ).toBe(t1.toISOString());
      expect((await store.deliveries.getEndpoint(ep.id))?.failing_since).toBe(t1.toISOString());
      await store.deliveries.noteFailure(quiet.id, t1);
      const [c] = await claim(1);
      await store.deliveries.recordDelivered([{ id: c.delivery.id, code: 200, excerpt: null }], new Date());
      expect((await store.deliveries.getEndpoint(ep.id))?.failing_since).toBeNull();
      // An endpoint without a success keeps failing.
      expect((await store.deliveries.getEndpoint(quiet.id))?.failing_since).toBe(t1.toISOString());

      expect(await store.deliveries.disable(ep.id, 'gone')).toBe(true);
      expect(await store.deliveries.disable(ep.id, 'again')).toBe(false);
      expect(await store.deliveries.getEndpoint(ep.id)).toMatchObject({
        enabled: false,
        disabled_reason: 'gone',
      });
    });
  });

  describe('outbox', () => {
    it('marks the appended events that queued deliveries (the worker is kicked by those only)', async () => {
      const co = await company();
      await endpoint(co, { events: ['wanted'] });
      const [a, b, c] = await store.events.appendMany(
        ['wanted', 'ignored', 'wanted'].map((type) => ({
          type,
          instance_id: null,
          company_id: co,
          data: {},
        })),
      );
      expect([a, b, c].map(queuedDeliveries)).toEqual([true, false, true]);
      expect(
        queuedDeliveries(
          await store.events.append({ type: 'ignored', instance_id: null, company_id: co, data: {} }),
        ),
      ).toBe(false);
    });

    it('claims due deliveries oldest first with their endpoint and event, and leases them', async () => {
      const co = await company();
      const ep = await endpoint(co);
      await events(co, 3, (i) => `c${i}`, 'order.placed');
      const now = soon();
      const got = await claim(10, undefined, now);
      expect(got.map((c) => c.delivery.chat_key)).toEqual(['c0', 'c1', 'c2']);
      expect(got[0].endpoint).toEqual(ep);
      expect(got[0].event).toMatchObject({
        type: 'order.placed',
        company_id: co,
        data: { message: { n: 0 } },
      });
      expect(got[0].delivery).toMatchObject({
        status: 'pending',
        attempts: 1,
        next_attempt_at: LATER.toISOString(),
      });
      expect(got[0].delivery.last_attempt_at).toBe(now.toISOString());
      // Leased: not claimable again until the lease runs out, then claimable again (at least once).
      expect(await claim(10)).toEqual([]);
      const again = await claim(10, undefined, new Date(LATER.getTime() + 1));
      expect(again.map((c) => [c.delivery.id, c.delivery.attempts])).toEqual(
        got.map((c) => [c.delivery.id, 2]),
      );
      await store.deliveries.recordDelivered(
        again.map((c) => ({ id: c.delivery.id, code: 204, excerpt: 'ok' })),
        new Date(),
      );
      expect(await claim(10, undefined, new Date(LATER.getTime() + 2))).toEqual([]);
    });

    it('gives every claimed delivery its whole endpoint, when one claim takes several of two endpoints', async () => {
      const co = await company();
      const a = await endpoint(co, { options: { template: 'a' } });
      const b = await endpoint(co, { url: 'http://127.0.0.1:9/b' });
      await events(co, 3, (i) => `c${i}`);
      const got = await claim(10);
      expect(got).toHaveLength(6);
      for (const c of got) {
        expect(c.endpoint).toEqual(c.delivery.endpoint_id === a.id ? a : b);
      }
      expect(new Set(got.map((c) => c.endpoint.id))).toEqual(new Set([a.id, b.id]));
    });

    it('gives back claimed deliveries still under their lease, and leaves ones claimed again alone', async () => {
      const co = await company();
      const ep = await endpoint(co);
      await events(co, 2, (i) => `r${i}`);
      const at = soon();
      const got = await claim(10, undefined, at);
      expect(got).toHaveLength(2);
      const [first, second] = got.map((c) => c.delivery.id);
      // The first one's lease ran out and another worker claimed it: its release must not undo that claim.
      const later = new Date(LATER.getTime() + 60_000);
      const retaken = await store.deliveries.claim(new Date(LATER.getTime() + 1), later, 10);
      expect(retaken.map((c) => c.delivery.id)).toEqual([first, second]);
      await store.deliveries.record(second, {
        status: 'pending',
        next_attempt_at: LATER,
        code: null,
        error: null,
        excerpt: null,
        at,
      });
      expect(await store.deliveries.release([first, second], LATER)).toBe(1);
      const rows = (await store.deliveries.listDeliveries({ endpoint_id: ep.id, limit: 10 })).items;
      const byId = new Map(rows.map((d) => [d.id, d]));
      expect(byId.get(first)).toMatchObject({ attempts: 2, next_attempt_at: later.toISOString() });
      // Given back: the attempt is not counted and it is due again at its claim time.
      expect(byId.get(second)).toMatchObject({ attempts: 1 });
      expect(byId.get(second)?.next_attempt_at).toBe(new Date(LATER.getTime() + 1).toISOString());
      expect((await claim(10, undefined, new Date(LATER.getTime() + 2))).map((c) => c.delivery.id)).toEqual([
        second,
      ]);
      expect(await store.deliveries.release([], LATER)).toBe(0);
    });

    it('never claims a later delivery of a chat while an earlier one is pending; chatless ones are not ordered', async () => {
      const co = await company();
      const ep = await endpoint(co);
      await events(co, 6, (i) => (i < 4 ? `c${i % 2}` : null));
      const first = await claim(10);
      // c0 and c1 give their first delivery; both chatless deliveries go.
      expect(first.map((c) => c.delivery.chat_key)).toEqual(['c0', 'c1', null, null]);
      expect(await claim(10)).toEqual([]);
      // A failed attempt scheduled later keeps the chat's next delivery waiting.
      const c0 = first[0].delivery.id;
      await store.deliveries.record(c0, {
        status: 'pending',
        next_attempt_at: new Date(Date.now() - 1_000),
        code: 500,
        error: 'HTTP 500',
        excerpt: 'no',
        at: new Date(),
      });
      const retry = await claim(10);
      expect(retry.map((c) => c.delivery.id)).toEqual([c0]);
      expect(retry[0].delivery).toMatchObject({ attempts: 2, last_status_code: 500, last_error: 'HTTP 500' });
      await store.deliveries.record(c0, {
        status: 'failed',
        code: 500,
        error: 'dead',
        excerpt: null,
        at: new Date(),
      });
      // A dead letter no longer holds its chat back.
      expect((await claim(10)).map((c) => c.delivery.chat_key)).toEqual(['c0']);
      expect(ofEndpoint(first, ep)).toHaveLength(4);
    });

    it('takes no more per endpoint than its cap minus what is busy, sinks their own cap; skips disabled ones', async () => {
      const co = await company();
      const hook = await endpoint(co);
      const sink = await endpoint(co, { kind: 'nats', url: 'nats://127.0.0.1:4222' });
      const off = await endpoint(co);
      await store.deliveries.disable(off.id, 'off');
      await events(co, 40, (i) => `chat-${i % 20}`);
      const got = await claim(100, { perEndpoint: 4, perSink: 16 });
      expect(ofEndpoint(got, hook)).toHaveLength(4);
      expect(ofEndpoint(got, sink)).toHaveLength(16);
      expect(ofEndpoint(got, off)).toHaveLength(0);
      const chats = ofEndpoint(got, sink).map((c) => c.delivery.chat_key);
      expect(new Set(chats).size).toBe(chats.length);
      const more = await claim(100, { perEndpoint: 4, perSink: 16, busy: new Map([[sink.id, 14]]) });
      expect(ofEndpoint(more, sink)).toHaveLength(2);
      // The hook is full in this process: none of its deliveries.
      const full = await claim(100, { perEndpoint: 4, perSink: 16, busy: new Map([[hook.id, 4]]) });
      expect(ofEndpoint(full, hook)).toHaveLength(0);
      // The overall limit holds across endpoints, oldest due first.
      const one = await claim(1, { perEndpoint: 4, perSink: 16 });
      expect(one).toHaveLength(1);
    });

    it('with a deep backlog, claims the head of every chat in order and drains every chat in order', async () => {
      const co = await company();
      const ep = await endpoint(co, { events: ['msg'] });
      const hot = await endpoint(co, { events: ['hot'] });
      // 3000 deliveries over 50 chats, plus one chat of 300 deliveries ahead of them whose head is leased.
      await events(co, 300, () => 'hot-chat', 'hot');
      await events(co, 3000, (i) => `c${i % 50}`);
      const head = await claim(1, { perEndpoint: 1000 });
      expect(head.map((c) => c.endpoint.id)).toEqual([hot.id]);
      const first = await claim(100, { perEndpoint: 1000 });
      // Only chat heads: the hot chat's next deliveries wait behind its leased head.
      expect(first.map((c) => c.delivery.chat_key)).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`));
      await store.deliveries.recordDelivered(
        [...head, ...first].map((c) => ({ id: c.delivery.id, code: 200, excerpt: null })),
        new Date(),
      );
      const rest = await drain(64);
      expect(rest).toHaveLength(3300 - 51);
      const seen = [...head, ...first, ...rest];
      expect(new Set(seen.map((c) => c.delivery.id)).size).toBe(3300);
      const byChat = new Map<string, number[]>();
      for (const c of seen)
        byChat.set(c.delivery.chat_key!, [...(byChat.get(c.delivery.chat_key!) ?? []), c.delivery.id]);
      for (const ids of byChat.values()) expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(ofEndpoint(seen, ep)).toHaveLength(3000);
    }, 120_000);

    it('walks the chats of an endpoint from its cursor round to the start, only as far as its free slots', async () => {
      const co = await company();
      const ep = await endpoint(co);
      await events(co, 10, (i) => `c${i}`);
      const keys = (cs: ClaimedDelivery[]) => cs.map((c) => c.delivery.chat_key!);
      const first = await claim(100, { perEndpoint: 3, after: new Map([[ep.id, 'c5']]) });
      expect(keys(first)).toEqual(['c6', 'c7', 'c8']);
      expect(claimCursor('c5', keys(first))).toBe('c8');
      const second = await claim(100, { perEndpoint: 3, after: new Map([[ep.id, 'c8']]) });
      expect(keys(second)).toEqual(['c0', 'c1', 'c9']);
      expect(claimCursor('c8', keys(second))).toBe('c1');
      // Chats in flight are skipped; without a cursor the walk starts at the first chat.
      expect(keys(await claim(100, { perEndpoint: 10 }))).toEqual(['c2', 'c3', 'c4', 'c5']);
      expect(claimCursor(undefined, [])).toBeUndefined();
      expect(claimCursor('c3', [])).toBe('c3');
    });

    it('concurrent claimers: each delivery is claimed by exactly one, and a chat only after its earlier one', async () => {
      const co = await company();
      await endpoint(co);
      await events(co, 600, (i) => `c${i % 30}`);
      const all = (
        await store.deliveries.listDeliveries({
          endpoint_id: (await store.deliveries.listEndpoints({ company_id: co }))[0].id,
          limit: 1000,
        })
      ).items;
      const chatOf = new Map(all.map((d) => [d.id, d.chat_key!]));
      const earlier = (id: number) =>
        all.filter((d) => d.chat_key === chatOf.get(id) && d.id < id).map((d) => d.id);
      const done = new Set<number>();
      const claimedBy = new Map<number, number>();
      const violations: string[] = [];
      await Promise.all(
        Array.from({ length: 4 }, async (_, worker) => {
          for (let idle = 0; idle < 3; ) {
            const got = await claim(7, { perEndpoint: 1000 });
            if (!got.length) {
              idle++;
              continue;
            }
            idle = 0;
            for (const c of got) {
              const id = c.delivery.id;
              if (claimedBy.has(id)) violations.push(`${id} claimed by ${claimedBy.get(id)} and ${worker}`);
              claimedBy.set(id, worker);
              const waiting = earlier(id).filter((e) => !done.has(e));
              if (waiting.length) violations.push(`${id} claimed before ${waiting.join(',')}`);
            }
            // Marked done before the outcome commits: a claim can only see it delivered after that.
            for (const c of got) done.add(c.delivery.id);
            await store.deliveries.recordDelivered(
              got.map((c) => ({ id: c.delivery.id, code: 200, excerpt: null })),
              new Date(),
            );
          }
        }),
      );
      expect(violations).toEqual([]);
      expect(claimedBy.size).toBe(600);
    }, 120_000);

    it('records outcomes only on pending deliveries, lists and pages deliveries, replays, and counts the depth', async () => {
      const co = await company();
      const ep = await endpoint(co);
      await events(co, 5, (i) => `c${i}`, 'order.placed');
      const depth0 = await store.deliveries.depth();
      const [a, b, c] = await claim(3);
      const at = new Date('2026-02-01T00:00:00.000Z');
      await store.deliveries.recordDelivered([{ id: a.delivery.id, code: 204, excerpt: 'fine' }], at);
      await store.deliveries.record(b.delivery.id, {
        status: 'failed',
        code: 500,
        error: 'dead',
        excerpt: 'x',
        at,
      });
      // A late outcome for a delivery no longer pending changes nothing.
      await store.deliveries.record(a.delivery.id, {
        status: 'failed',
        code: 500,
        error: 'late',
        excerpt: null,
        at,
      });
      await store.deliveries.recordDelivered([{ id: b.delivery.id, code: 200, excerpt: null }], at);
      expect(await store.deliveries.depth()).toBe(depth0 - 2);

      const page1 = await store.deliveries.listDeliveries({ endpoint_id: ep.id, limit: 3 });
      expect(page1.items.map((d) => d.id)).toEqual(
        (await store.deliveries.listDeliveries({ endpoint_id: ep.id, limit: 10 })).items
          .slice(0, 3)
          .map((d) => d.id),
      );
      expect(page1.items[0].event_type).toBe('order.placed');
      expect(page1.next_cursor).toBe(String(page1.items[2].id));
      const page2 = await store.deliveries.listDeliveries({
        endpoint_id: ep.id,
        limit: 3,
        before: Number(page1.next_cursor),
      });
      expect(page2.items).toHaveLength(2);
      expect(page2.next_cursor).toBeNull();
      const delivered = (
        await store.deliveries.listDeliveries({ endpoint_id: ep.id, status: 'delivered', limit: 10 })
      ).items;
      expect(delivered.map((d) => d.id)).toEqual([a.delivery.id]);
      expect(delivered[0]).toMatchObject({
        last_status_code: 204,
        response_excerpt: 'fine',
        delivered_at: at.toISOString(),
      });
      const failed = (
        await store.deliveries.listDeliveries({ endpoint_id: ep.id, status: 'failed', limit: 10 })
      ).items;
      expect(failed.map((d) => [d.id, d.last_error])).toEqual([[b.delivery.id, 'dead']]);

      // Replay one by id (only of this endpoint), then every failed one since a time.
      const other = await endpoint(await company());
      expect(await store.deliveries.replay(other.id, { id: a.delivery.id }, new Date())).toBe(0);
      expect(await store.deliveries.replay(ep.id, { id: a.delivery.id }, new Date())).toBe(1);
      expect(
        await store.deliveries.replay(ep.id, { since: new Date(0), statuses: ['failed'] }, new Date()),
      ).toBe(1);
      const replayed = await store.deliveries.listDeliveries({
        endpoint_id: ep.id,
        status: 'pending',
        limit: 10,
      });
      expect(replayed.items.map((d) => d.id).sort()).toEqual(
        [a.delivery.id, b.delivery.id, c.delivery.id, ...(await pendingOthers(ep.id, [a, b, c]))].sort(),
      );
      expect(replayed.items.find((d) => d.id === a.delivery.id)?.attempts).toBe(0);
      expect(await store.deliveries.depth()).toBe(depth0);
    });

    /** Ids of the endpoint's pending deliveries other than the given claims. */
    const pendingOthers = async (endpointId: string, except: ClaimedDelivery[]) =>
      (
        await store.deliveries.listDeliveries({ endpoint_id: endpointId, status: 'pending', limit: 100 })
      ).items
        .map((d) => d.id)
        .filter((id) => !except.some((c) => c.delivery.id === id));
  });
});
