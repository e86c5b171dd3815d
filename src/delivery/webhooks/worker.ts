// The outbox worker: claims due deliveries (SKIP LOCKED), sends them, and records retries, dead letters and events.
import type { Config } from '../../config/index.js';
import { commitWithEvents } from '../../core/commit.js';
import { isSinkKind } from '../../domain/endpoint-kinds.js';
import type { EventData } from '../../domain/events.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import {
  type ClaimedDelivery,
  claimCursor,
  type DeliveryRepo,
  queuedDeliveries,
} from '../../ports/deliveries.js';
import type { EventBus } from '../../ports/event-bus.js';
import type { ProviderLogger } from '../../ports/provider.js';
import type { Store } from '../../ports/store.js';
import { createGuardedFetch, type GuardedFetch } from '../../runtime/outbound/guarded-fetch.js';
import { type PostFn, postRequest } from './http-post.js';
import { MAX_RETRY_AFTER_MS, nextDelayMs, retryAfterMs } from './retry.js';
import { signedHeaders } from './signer.js';
import type { Resolver } from './ssrf.js';

export type WebhookSettings = Config['webhooks'];

/** What one attempt produced. `retryAfterMs` comes from a 429/503 `Retry-After` header. */
export interface Outcome {
  ok: boolean;
  code: number | null;
  error: string | null;
  excerpt: string | null;
  retryAfterMs?: number | null;
}

/** Sends one claimed delivery (webhooks are built in; the agent bridge plugs in here). */
export type Dispatcher = (c: ClaimedDelivery) => Promise<Outcome>;

export type DeliveryResult = 'delivered' | 'retry' | 'failed' | 'disabled';

/** Hooks for metrics: one call per attempt; `lagMs` from event commit to success. */
export interface DeliveryObserver {
  onResult(kind: string, result: DeliveryResult, lagMs: number | null): void;
}

export interface DeliveryWorkerOptions {
  store: Store;
  bus: EventBus;
  logger: ProviderLogger;
  settings: WebhookSettings;
  clock?: Clock;
  /** Jitter source in [0, 1); 0.5 = no jitter. */
  random?: () => number;
  post?: PostFn;
  resolve?: Resolver;
  agent?: Dispatcher;
  /** Event sinks (SINK_KINDS in src/domain/endpoint-kinds.ts): publishes to a broker (src/delivery/sinks). */
  sinks?: Dispatcher;
  observer?: DeliveryObserver;
}

const EXCERPT = 512;

interface Success {
  c: ClaimedDelivery;
  out: Outcome;
}

/** A delivery claimed ahead, waiting in this process for a free slot, and the lease its claim took. */
interface Ready {
  c: ClaimedDelivery;
  lease: Date;
}

/** Margin kept between an attempt's end at the latest (start + timeout) and its claim lease's end. */
const LEASE_MARGIN_MS = 1_000;

/**
 * Polls the outbox every `workerIntervalMs`, and at once when this process commits events that queued deliveries;
 * safe with many replicas.
 * Attempts run as a pump, not in rounds: a freed slot is refilled at once, at most `concurrency` attempts are in
 * flight in the process and at most `endpointConcurrency` per endpoint, so a slow or dead receiver holds only its
 * own slots and every other endpoint's deliveries and retries keep their schedule.
 * Claims run one slot-load ahead: a claim may take up to as many deliveries again as there are slots (per endpoint
 * and in all), which wait in `ready` and start as slots free up, without waiting for the next claim's round trip.
 * One whose lease could run out before its attempt ends is given back (`release`) instead of started.
 */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private filling: Promise<void> | null = null;
  private again = false;
  private kicked = false;
  private stopped = false;
  /** Attempts in flight: all together, and per endpoint id. */
  private inFlight = 0;
  private readonly perEndpoint = new Map<string, number>();
  /** Claimed deliveries waiting for a slot (in claim order), and how many of them each endpoint has. */
  private ready: Ready[] = [];
  private readonly readyPerEndpoint = new Map<string, number>();
  /** Releases of stale ready deliveries under way. */
  private releasing = 0;
  /** Per endpoint, the chat key where its last claim stopped (the next claim goes on from there). */
  private readonly cursors = new Map<string, string>();
  /** Attempts started since the worker was made (tick() reports its own share). */
  private attempts = 0;
  private idleWaiters: Array<() => void> = [];
  private successes: Success[] = [];
  private flushing = false;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly post: PostFn;
  /** The guarded fetch with this run's keep-alive pool (made by start(), its idle connections closed by stop()). */
  private outbound: GuardedFetch | null = null;

  constructor(private readonly o: DeliveryWorkerOptions) {
    this.clock = o.clock ?? systemClock;
    this.random = o.random ?? Math.random;
    this.post = o.post ?? postRequest;
  }

  start(): void {
    this.stopped = false;
    this.outbound?.close();
    this.outbound = createGuardedFetch({
      allowPrivate: this.o.settings.allowPrivate,
      resolve: this.o.resolve,
      keepAlive: true,
    });
    this.timer = setInterval(() => this.fill(), this.o.settings.workerIntervalMs);
    this.timer.unref();
    // Kicked by this process's appends that queued deliveries; other replicas' are theirs to kick (or the interval's).
    const bus = this.o.bus;
    this.unsubscribe = (bus.subscribeLocal ?? bus.subscribe).call(bus, (e) => {
      if (queuedDeliveries(e)) this.kick();
    });
    this.kick();
  }

  /**
   * Stops claiming and waits up to `graceMs` (default 2 s) for the attempts in flight; an attempt still running after
   * that is retried by whichever worker next finds its lease expired.
   */
  async stop(graceMs = 2_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    // Claimed but not started: given back at once (due again, the attempt not counted).
    await this.release(this.ready.splice(0));
    this.readyPerEndpoint.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.whenIdle(),
      new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    this.outbound?.close();
    this.outbound = null;
  }

  /** Attempts in flight in this process (all endpoints). */
  get active(): number {
    return this.inFlight;
  }

  private kick(): void {
    if (this.kicked || this.stopped) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.fill();
    });
  }

  /** Claims what is due now (fire and forget; use tick() to wait for the outcome). */
  wake(): void {
    if (!this.stopped) this.fill();
  }

  /**
   * Claims and attempts what is due until nothing is due and nothing is in flight; resolves with the number of
   * attempts started meanwhile. Overlapping calls share the pump.
   */
  tick(): Promise<number> {
    const from = this.attempts;
    this.fill();
    return this.whenIdle().then(() => this.attempts - from);
  }

  private whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.filling || this.inFlight > 0 || this.again || this.flushing || this.successes.length) return;
    if (this.releasing > 0) return;
    if (this.ready.length && !this.stopped) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Fills free slots (or runs again right after the fill in progress). */
  private fill(): void {
    if (this.filling) {
      this.again = true;
      return;
    }
    this.filling = this.fillSlots()
      .catch((err) => {
        if (!this.stopped) this.o.logger.warn({ err: String(err) }, 'webhook worker claim failed');
      })
      .finally(() => {
        this.filling = null;
        if (this.again && !this.stopped) {
          this.again = false;
          this.fill();
          return;
        }
        this.again = false;
        this.checkIdle();
      });
  }

  private async fillSlots(): Promise<void> {
    const { concurrency, endpointConcurrency, sinkConcurrency, timeoutMs } = this.o.settings;
    // Slots plus one slot-load claimed ahead, in all and per endpoint.
    const cap = 2 * concurrency;
    while (!this.stopped && this.inFlight + this.ready.length < cap) {
      const now = this.clock.now();
      const lease = new Date(now.getTime() + timeoutMs + 5_000);
      const asked = cap - this.inFlight - this.ready.length;
      const busy = new Map(this.perEndpoint);
      for (const [ep, n] of this.readyPerEndpoint) busy.set(ep, (busy.get(ep) ?? 0) + n);
      // One statement, no transaction around it (BEGIN and COMMIT would be two more round trips per claim).
      const claimed = await this.o.store.deliveries.claim(now, lease, asked, {
        perEndpoint: 2 * endpointConcurrency,
        perSink: 2 * (sinkConcurrency ?? endpointConcurrency),
        busy,
        after: this.cursors,
      });
      if (this.stopped) {
        // stop() ran while this claim was out: what it brought back is given back, not left to its lease.
        await this.release(claimed.map((c) => ({ c, lease })));
        return;
      }
      this.advanceCursors(claimed);
      for (const c of claimed) {
        this.ready.push({ c, lease });
        this.readyPerEndpoint.set(c.endpoint.id, (this.readyPerEndpoint.get(c.endpoint.id) ?? 0) + 1);
      }
      this.pump();
      // Fewer than asked: nothing more is claimable now (not due, or its endpoint's slots are taken). A finished
      // attempt, a published event or the interval fills again; another claim now would only come back empty.
      if (claimed.length < asked) break;
    }
  }

  /** Starts ready deliveries whose endpoint has a free slot, in claim order; gives back those whose lease is short. */
  private pump(): void {
    if (this.stopped || !this.ready.length) return;
    const { concurrency, endpointConcurrency, sinkConcurrency, timeoutMs } = this.o.settings;
    // An attempt started now ends by this time at the latest; its lease must outlast it.
    const latestEnd = this.clock.now().getTime() + timeoutMs + LEASE_MARGIN_MS;
    const waiting: Ready[] = [];
    const stale: Ready[] = [];
    for (const r of this.ready) {
      const ep = r.c.endpoint;
      const epCap = isSinkKind(ep.kind) ? (sinkConcurrency ?? endpointConcurrency) : endpointConcurrency;
      if (r.lease.getTime() < latestEnd) {
        this.unready(ep.id);
        stale.push(r);
      } else if (this.inFlight < concurrency && (this.perEndpoint.get(ep.id) ?? 0) < epCap) {
        this.unready(ep.id);
        this.launch(r.c);
      } else waiting.push(r);
    }
    this.ready = waiting;
    if (stale.length) {
      this.releasing++;
      void this.release(stale).finally(() => {
        this.releasing--;
        if (this.stopped) this.checkIdle();
        else this.fill();
      });
    }
  }

  private unready(endpointId: string): void {
    const n = (this.readyPerEndpoint.get(endpointId) ?? 1) - 1;
    if (n <= 0) this.readyPerEndpoint.delete(endpointId);
    else this.readyPerEndpoint.set(endpointId, n);
  }

  /** Gives back claimed deliveries that were not started (a failure leaves them to their lease). */
  private async release(rs: readonly Ready[]): Promise<void> {
    const byLease = new Map<number, number[]>();
    for (const { c, lease } of rs)
      byLease.set(lease.getTime(), [...(byLease.get(lease.getTime()) ?? []), c.delivery.id]);
    for (const [lease, ids] of byLease) {
      try {
        await this.o.store.deliveries.release(ids, new Date(lease));
      } catch (err) {
        this.o.logger.warn(
          { err: String(err), deliveries: ids.length },
          'could not give back claimed deliveries',
        );
      }
    }
  }

  private advanceCursors(claimed: readonly ClaimedDelivery[]): void {
    const keys = new Map<string, string[]>();
    for (const { delivery: d } of claimed) {
      if (d.chat_key !== null) keys.set(d.endpoint_id, [...(keys.get(d.endpoint_id) ?? []), d.chat_key]);
    }
    for (const [ep, ks] of keys) {
      const next = claimCursor(this.cursors.get(ep), ks);
      if (next !== undefined) this.cursors.set(ep, next);
    }
  }

  private launch(c: ClaimedDelivery): void {
    const ep = c.endpoint.id;
    this.inFlight++;
    this.attempts++;
    this.perEndpoint.set(ep, (this.perEndpoint.get(ep) ?? 0) + 1);
    void this.process(c).finally(() => {
      this.inFlight--;
      const n = (this.perEndpoint.get(ep) ?? 1) - 1;
      if (n <= 0) this.perEndpoint.delete(ep);
      else this.perEndpoint.set(ep, n);
      if (this.stopped) this.checkIdle();
      else {
        this.pump();
        this.fill();
      }
    });
  }

  /**
   * Attempts one delivery and records its outcome; never rejects. A success is queued for the group commit and
   * resolves at once (its slot is free while the record commits); a failure resolves once recorded.
   */
  private async process(c: ClaimedDelivery): Promise<void> {
    let outcome: Outcome;
    try {
      const kind = c.endpoint.kind;
      const other = kind === 'agent' ? this.o.agent : kind === 'webhook' ? undefined : this.o.sinks;
      outcome =
        kind === 'webhook'
          ? await this.sendWebhook(c)
          : other
            ? await other(c)
            : { ok: false, code: null, error: `${kind} delivery not configured`, excerpt: null };
    } catch (err) {
      outcome = {
        ok: false,
        code: null,
        error: err instanceof Error ? err.message : String(err),
        excerpt: null,
      };
    }
    if (outcome.ok) {
      // The slot is free once the receiver answered: the claim lease keeps the row from a second claim (and its
      // chat's next delivery from being claimed) until the group commit records it; a crash before that sends it
      // again (at least once).
      this.successes.push({ c, out: outcome });
      void this.flushSuccesses();
      return;
    }
    try {
      await this.recordOutcome(c, outcome);
    } catch (err) {
      // The lease expires and the delivery is attempted again (at least once).
      this.o.logger.warn(
        { err: String(err), delivery_id: c.delivery.id },
        'could not record webhook outcome',
      );
    }
  }

  /**
   * Records successes in one statement per flush, which also clears their endpoints' failure state.
   * Successes that finish while a flush commits go into the next one (group commit, no added delay).
   */
  private async flushSuccesses(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.successes.length) {
        const done = this.successes.splice(0);
        const now = this.clock.now();
        let ok = true;
        try {
          await this.o.store.deliveries.recordDelivered(
            done.map(({ c, out }) => ({ id: c.delivery.id, code: out.code, excerpt: out.excerpt })),
            now,
          );
        } catch (err) {
          // The leases expire and these deliveries are attempted again (at least once).
          ok = false;
          this.o.logger.warn(
            { err: String(err), deliveries: done.length },
            'could not record webhook successes',
          );
        }
        if (ok && this.o.observer) {
          for (const { c } of done) {
            this.o.observer.onResult(
              c.endpoint.kind,
              'delivered',
              now.getTime() - Date.parse(c.event.created_at),
            );
          }
        }
        // The chats of the deliveries just recorded may have their next delivery due: claim again.
        if (ok && !this.stopped) this.fill();
      }
    } finally {
      this.flushing = false;
      this.checkIdle();
    }
  }

  /** Builds, signs and POSTs the event (Standard Webhooks headers; `webhook-id` is the event id). */
  private async sendWebhook(c: ClaimedDelivery): Promise<Outcome> {
    const now = this.clock.now();
    const body = JSON.stringify(c.event);
    const secrets = [c.endpoint.secret ?? ''];
    if (
      c.endpoint.previous_secret &&
      c.endpoint.previous_expires_at &&
      Date.parse(c.endpoint.previous_expires_at) > now.getTime()
    ) {
      secrets.push(c.endpoint.previous_secret);
    }
    const res = await this.post(
      c.endpoint.url,
      body,
      {
        'content-type': 'application/json',
        'user-agent': 'Switchboard-Webhooks/1',
        ...signedHeaders(secrets, String(c.event.id), now, body),
      },
      {
        timeoutMs: this.o.settings.timeoutMs,
        allowPrivate: this.o.settings.allowPrivate,
        resolve: this.o.resolve,
        outbound: this.outbound ?? undefined,
      },
    );
    return {
      ok: res.status >= 200 && res.status < 300,
      code: res.status,
      error: res.status >= 200 && res.status < 300 ? null : `HTTP ${res.status}`,
      excerpt: res.body.slice(0, EXCERPT),
      retryAfterMs:
        res.status === 429 || res.status === 503 ? retryAfterMs(res.headers['retry-after'], now) : null,
    };
  }

  private async recordOutcome(c: ClaimedDelivery, out: Outcome): Promise<void> {
    const { store, bus, settings, observer } = this.o;
    const { delivery: d, endpoint: ep } = c;
    const now = this.clock.now();
    const base = { code: out.code, error: out.error?.slice(0, 500) ?? null, excerpt: out.excerpt, at: now };
    const eventBase = { instance_id: ep.instance_id, company_id: ep.company_id };
    const facts = {
      endpoint_id: ep.id,
      kind: ep.kind,
      delivery_id: d.id,
      event_id: d.event_id,
      event_type: c.event.type,
      attempts: d.attempts,
      last_status_code: out.code,
      last_error: base.error,
    };

    if (out.code === 410) {
      await commitWithEvents(store, bus, async (tx, emit) => {
        const repo = tx.deliveries;
        await repo.record(d.id, { ...base, status: 'failed' });
        if (await repo.disable(ep.id, 'the receiver answered 410 Gone')) {
          await emit({ ...eventBase, type: 'webhook.disabled', data: { ...facts, reason: 'gone' } });
        }
      });
      observer?.onResult(ep.kind, 'disabled', null);
      return;
    }

    const scheduled = nextDelayMs(d.attempts, settings.retryScheduleMs, this.random);
    if (scheduled === null) {
      await commitWithEvents(store, bus, async (tx, emit) => {
        const repo = tx.deliveries;
        await repo.record(d.id, { ...base, status: 'failed' });
        const since = await repo.noteFailure(ep.id, now);
        // No dead-letter event about a dead-letter event: that could feed itself through the same endpoint.
        if (!c.event.type.startsWith('webhook.')) {
          const type = ep.kind === 'agent' ? 'agent.failed' : 'webhook.exhausted';
          await emit({ ...eventBase, type, data: facts });
        }
        await this.maybeDisable(repo, emit, c, since, now, facts);
      });
      observer?.onResult(ep.kind, 'failed', null);
      return;
    }

    const wait =
      out.retryAfterMs !== null && out.retryAfterMs !== undefined
        ? Math.min(out.retryAfterMs, MAX_RETRY_AFTER_MS)
        : scheduled;
    await commitWithEvents(store, bus, async (tx, emit) => {
      const repo = tx.deliveries;
      await repo.record(d.id, {
        ...base,
        status: 'pending',
        next_attempt_at: new Date(now.getTime() + wait),
      });
      const since = await repo.noteFailure(ep.id, now);
      await this.maybeDisable(repo, emit, c, since, now, facts);
    });
    observer?.onResult(ep.kind, 'retry', null);
  }

  /** Disables an endpoint that has failed continuously for WEBHOOK_DISABLE_AFTER, with a `webhook.disabled` event. */
  private async maybeDisable(
    repo: DeliveryRepo,
    emit: Parameters<Parameters<typeof commitWithEvents>[2]>[1],
    c: ClaimedDelivery,
    since: Date,
    now: Date,
    facts: EventData<'webhook.exhausted'>,
  ): Promise<void> {
    if (now.getTime() - since.getTime() < this.o.settings.disableAfterMs) return;
    if (await repo.disable(c.endpoint.id, `failing continuously since ${since.toISOString()}`)) {
      await emit({
        type: 'webhook.disabled',
        instance_id: c.endpoint.instance_id,
        company_id: c.endpoint.company_id,
        data: { ...facts, reason: 'failing', failing_since: since.toISOString() },
      });
    }
  }
}
