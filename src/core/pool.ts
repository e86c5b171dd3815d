// Warm pool (seed 004): free instances waiting with a QR, claimed atomically by a company, released when its login
// ends. The pool follows sessions through the events the supervisor publishes; the SQL is in storage/pool.ts.

import { SbError } from '../domain/errors.js';
import type { GatewayEvent, Instance, Principal } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { ProviderLogger, ProviderRegistry } from '../ports/provider.js';
import type { Repos, Store } from '../ports/store.js';
import { commitWithEvents } from './commit.js';
import { LostRace } from './connections.js';
import type { CredentialService } from './keys.js';
import { type ClaimOutcome, PoolClaimer } from './pool-claimer.js';
import { isLoginEnd, loginEnded } from './pool-events.js';
import { QrImageCache } from './pool-qr-cache.js';
import { settled } from './settled.js';
import type { SessionSupervisor } from './supervisor.js';

/** The company that owns free pooled instances until one is claimed. */
export const POOL_COMPANY = '__pool__';

export interface PoolOptions {
  enabled: boolean;
  /** Provider name of pooled instances (`simulator`, `whatsapp` or `waha`). */
  provider: string;
  /** Free instances kept at start. */
  size: number;
  /** Below this many free instances a refill starts. */
  minFree: number;
  /** How many instances a refill creates. */
  refill: number;
}

export interface PoolDeps {
  store: Store;
  bus: EventBus;
  supervisor: SessionSupervisor;
  providers: ProviderRegistry;
  logger: ProviderLogger;
  options: PoolOptions;
  /** Renders a QR payload as a PNG data URL. */
  renderQr(qr: string): Promise<string>;
  /** Forgets cached key resolutions (after a release revoked the instance's keys). */
  keys?: { invalidate(): void };
  /** Revokes an instance's keys inside a transaction and announces it, so their open sockets close everywhere. */
  credentials?: Pick<CredentialService, 'revokeInstanceKeys'>;
}

/** Pool counts for /metrics and GET /api/v1/pool. */
export interface PoolStats {
  enabled: boolean;
  provider: string;
  size: number;
  free: number;
  ready: number;
  in_use: number;
  target: number;
  min_free: number;
  refill: number;
  refilling: boolean;
}

/** The fields of a claimed instance a connect answer needs. */
export type ClaimedInstance = Pick<Instance, 'id' | 'name' | 'qr' | 'status' | 'auth_status' | 'account'>;

export type ConnectResult =
  | { kind: 'qr'; instance: ClaimedInstance; qrCode: string }
  | { kind: 'connected'; instance: Instance }
  | { kind: 'pending'; instance: Instance };

const START_CONCURRENCY = 4;
/** Pause before a free pooled instance whose session ended is opened again. */
const FREE_RETRY_MS = 5_000;
export class PoolService {
  private refilling: Promise<void> | null = null;
  private readonly releases = new Map<string, Promise<Instance | null>>();
  /** Look-ups of instances whose login ended, before their release is scheduled. */
  private readonly ending = new Set<Promise<void>>();
  /** Free instances being reopened on the retry cadence; `again`: another end was reported meanwhile. */
  private readonly retrying = new Map<string, { again: boolean }>();
  private readonly qrImages: QrImageCache;
  /** Group commit of concurrent connects' claims. */
  private readonly claimer = new PoolClaimer<ClaimedInstance>((ids) => this.claimBatch(ids));
  private readonly unsubscribe: () => void;
  private closed = false;
  private seq = 0;

  constructor(private readonly deps: PoolDeps) {
    this.qrImages = new QrImageCache(deps.renderQr);
    // Only this process's events: the releases and QR renders follow the sessions this process runs (the
    // supervisor publishes what it persisted for them), as every other replica does for its own.
    this.unsubscribe = (deps.bus.subscribeLocal ?? deps.bus.subscribe).call(deps.bus, (e) => this.onEvent(e));
  }

  get enabled(): boolean {
    return this.deps.options.enabled && !!this.deps.providers.get(this.deps.options.provider);
  }

  /** The PNG data URL of a QR, rendered once per QR payload (pre-rendered for pooled instances). */
  qrImage(qr: string): Promise<string> {
    return this.qrImages.get(qr);
  }

  async stats(): Promise<PoolStats> {
    const o = this.deps.options;
    const r = await this.deps.store.pool.counts();
    return {
      enabled: this.enabled,
      provider: o.provider,
      size: r.size,
      free: r.free,
      ready: r.ready,
      in_use: r.in_use,
      target: o.size,
      min_free: o.minFree,
      refill: o.refill,
      refilling: this.refilling !== null,
    };
  }

  /** At start: tops the pool up to POOL_SIZE free instances and opens the sessions of free ones not running. */
  async fill(): Promise<void> {
    if (!this.enabled) return;
    const free = await this.deps.store.pool.freeIds();
    const idle = free.filter((id) => !this.deps.supervisor.has(id));
    const created = await this.create(Math.max(0, this.deps.options.size - free.length));
    await this.startAll([...idle, ...created]);
  }

  /** Creates `POOL_REFILL` more instances in the background (one refill at a time). */
  refill(): Promise<void> {
    if (!this.enabled || this.closed) return Promise.resolve();
    this.refilling ??= (async () => {
      try {
        await this.startAll(await this.create(this.deps.options.refill));
      } catch (err) {
        this.warn('pool refill failed', err);
      } finally {
        this.refilling = null;
      }
    })();
    return this.refilling;
  }

  private async refillIfLow(): Promise<void> {
    if ((await this.deps.store.pool.countFree()) < this.deps.options.minFree) void this.refill();
  }

  private async create(n: number): Promise<string[]> {
    if (n <= 0) return [];
    const provider = this.deps.providers.get(this.deps.options.provider)!.name;
    const stamp = Date.now();
    return commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
      await tx.companies.ensure(POOL_COMPANY, 'Warm pool');
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const inst = await tx.instances.create({
          company_id: POOL_COMPANY,
          provider,
          name: `pool-${stamp}-${++this.seq}`,
          type_instance: ['api'],
          settings: {},
          mcp_schema: {},
          desired_state: 'running',
          is_pooled: true,
        });
        await emit({
          type: 'instance.created',
          instance_id: inst.id,
          company_id: POOL_COMPANY,
          data: { provider, name: inst.name, type_instance: inst.type_instance, pooled: true },
        });
        ids.push(inst.id);
      }
      return ids;
    });
  }

  private async startAll(ids: string[]): Promise<void> {
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !this.closed; id = queue.shift()) {
        await this.deps.supervisor
          .start(id)
          .catch((err) => this.warn('pooled session failed to start', err, id));
      }
    };
    await Promise.all(Array.from({ length: Math.min(START_CONCURRENCY, queue.length) }, worker));
  }

  private companyOf(p: Principal): string {
    if (p.kind === 'admin')
      throw new SbError('SB_ERR_FORBIDDEN', 'connect as a user or with a company key, not the admin key');
    return p.companyId;
  }

  /**
   * "Connect my WhatsApp": the company's existing connection (its QR or status), or one free warm instance
   * claimed for it. Concurrent connects are group-committed: those arriving while a claim transaction runs share
   * the next one (`claimAndAssign`: one statement, `FOR UPDATE SKIP LOCKED`), so callers never share an instance.
   * Throws SB_ERR_POOL_EMPTY (and starts a refill) when none is free.
   */
  async connect(p: Principal): Promise<ConnectResult> {
    const companyId = this.companyOf(p);
    if (!this.enabled) {
      const existing = await this.deps.store.connections.get(companyId);
      if (existing) return this.current(existing.instance_id);
      throw new SbError('SB_ERR_POOL_EMPTY', 'the warm pool is disabled in this deployment');
    }
    const claimed = await this.claimer.claim(companyId);
    if (claimed.kind === 'existing') return this.current(claimed.instanceId);
    if (claimed.kind === 'empty') {
      void this.refill();
      throw new SbError('SB_ERR_POOL_EMPTY', 'no free WhatsApp instance right now; more are being created');
    }
    // No restart: the running session writes every event and row with the instance's current company.
    return { kind: 'qr', instance: claimed.instance, qrCode: await this.qrImage(claimed.instance.qr!) };
  }

  /**
   * One claim statement for a batch of companies (`claimAndAssign`: the claims, their connections, one
   * `pool.assigned` event per claimed instance and its outbox rows, committed on its own: one round trip, no
   * BEGIN/COMMIT), its events published after it. A company whose connection another transaction recorded
   * meanwhile claimed nothing (`lost`, PostgreSQL only) and claims on its own, which reports that connection.
   * A refill the claims call for waits until no claim is running or waiting.
   */
  private async claimBatch(companyIds: string[]): Promise<Map<string, ClaimOutcome<ClaimedInstance>>> {
    const outcomes = new Map<string, ClaimOutcome<ClaimedInstance>>();
    const batch = await this.deps.store.pool.claimAndAssign(companyIds);
    if (batch.events.length) this.deps.bus.publish(batch.events);
    let freeAfter = batch.freeAfter;
    for (const c of batch.claims) {
      if (c.instance) {
        const { provider: _provider, ...instance } = c.instance;
        outcomes.set(c.company_id, { kind: 'claimed', instance });
      } else if (c.existing) outcomes.set(c.company_id, { kind: 'existing', instanceId: c.existing });
      else if (!c.lost) outcomes.set(c.company_id, { kind: 'empty' });
    }
    for (const c of batch.claims) {
      if (!c.lost) continue;
      const one = await this.claimOne(c.company_id);
      outcomes.set(c.company_id, one.outcome);
      freeAfter = Math.min(freeAfter, one.freeAfter);
    }
    if (freeAfter < this.deps.options.minFree) {
      void this.claimer.idle().then(() => this.refill());
    }
    return outcomes;
  }

  /** One company's claim in its own transaction (the fallback of a company whose batch claim lost a race). */
  private async claimOne(
    companyId: string,
  ): Promise<{ outcome: ClaimOutcome<ClaimedInstance>; freeAfter: number }> {
    const existing = await this.deps.store.connections.get(companyId);
    if (existing)
      return { outcome: { kind: 'existing', instanceId: existing.instance_id }, freeAfter: Infinity };
    const claimed = await this.claim(companyId);
    if (claimed === 'exists') {
      const again = await this.deps.store.connections.get(companyId);
      const outcome: ClaimOutcome<ClaimedInstance> = again
        ? { kind: 'existing', instanceId: again.instance_id }
        : { kind: 'empty' };
      return { outcome, freeAfter: Infinity };
    }
    if (!claimed) return { outcome: { kind: 'empty' }, freeAfter: 0 };
    const { freeAfter, ...instance } = claimed;
    return { outcome: { kind: 'claimed', instance }, freeAfter };
  }

  /**
   * One statement claims the oldest free instance with a QR (SKIP LOCKED: concurrent claims take different rows)
   * and records it as the company's connection; a company that already has one rolls the claim back.
   */
  private async claim(
    companyId: string,
  ): Promise<(ClaimedInstance & { freeAfter: number }) | null | 'exists'> {
    try {
      return await commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
        const claim = await tx.pool.claim(companyId);
        if (!claim) return null;
        if (!claim.recorded) throw new LostRace();
        const { provider, ...instance } = claim.instance;
        await emit({
          type: 'pool.assigned',
          instance_id: instance.id,
          company_id: companyId,
          data: { name: instance.name, provider },
        });
        return { ...instance, freeAfter: claim.freeAfter };
      });
    } catch (err) {
      if (err instanceof LostRace) return 'exists';
      throw err;
    }
  }

  /** The company's instance as a connect answer: connected, its QR, or (re)started and waiting for one. */
  private async current(instanceId: string): Promise<ConnectResult> {
    let inst = await this.deps.store.instances.get(instanceId);
    if (!inst) throw new SbError('SB_ERR_INSTANCE_NOT_FOUND', 'the connection no longer exists');
    if (inst.auth_status === 'client_ready') return { kind: 'connected', instance: inst };
    if (!this.deps.supervisor.has(inst.id)) {
      inst = await this.deps.supervisor.start(inst.id);
    }
    if (inst.auth_status === 'qr_ready' && inst.qr) {
      return { kind: 'qr', instance: inst, qrCode: await this.qrImage(inst.qr) };
    }
    return { kind: 'pending', instance: inst };
  }

  /**
   * Returns a company's pooled instance to the pool: logs out, forgets its chats (the next user never sees
   * them), reassigns it to the pool and opens a fresh session. A non-pooled connection is only logged out.
   */
  async disconnect(p: Principal): Promise<boolean> {
    const companyId = this.companyOf(p);
    const conn = await this.deps.store.connections.get(companyId);
    if (!conn) return false;
    if (conn.source === 'pool') await this.release(conn.instance_id, 'disconnect');
    else await this.deps.supervisor.logout(conn.instance_id);
    return true;
  }

  /**
   * Releases a pooled instance (idempotent; concurrent calls share one run). Resolves with the row as its fresh
   * session left it, or null when no session was opened (not pooled, shutting down, or the start failed).
   */
  release(instanceId: string, reason: string): Promise<Instance | null> {
    let run = this.releases.get(instanceId);
    if (!run) {
      run = this.releaseNow(instanceId, reason).finally(() => this.releases.delete(instanceId));
      this.releases.set(instanceId, run);
    }
    return run;
  }

  private async releaseNow(instanceId: string, reason: string): Promise<Instance | null> {
    const inst = await this.deps.store.instances.get(instanceId);
    if (!inst?.is_pooled) return null;
    if (inst.assigned_to !== null) {
      if (this.deps.supervisor.has(instanceId) || inst.auth_status !== 'logged_out') {
        await this.deps.supervisor.logout(instanceId);
      }
      await commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
        await tx.connections.deleteByInstance(instanceId);
        // The previous company's instance keys die with its sockets and MCP sessions, on every replica.
        await this.deps.credentials?.revokeInstanceKeys(
          tx,
          emit,
          { id: instanceId, company_id: inst.assigned_to! },
          'released',
        );
        await this.wipe(tx, instanceId);
        await emit({
          type: 'pool.released',
          instance_id: instanceId,
          company_id: inst.assigned_to!,
          data: { name: inst.name, reason },
        });
      });
      // Revoked keys stop working at once in this process (other replicas: within the resolver's 1 s cache).
      this.deps.keys?.invalidate();
    }
    let reopened: Instance | null = null;
    if (!this.closed) {
      const sv = this.deps.supervisor;
      reopened = await (sv.has(instanceId) ? sv.restart(instanceId) : sv.start(instanceId)).catch((err) => {
        this.warn('pooled session failed to restart', err, instanceId);
        return null;
      });
    }
    if (!this.closed) void this.refillIfLow().catch((err) => this.warn('pool refill failed', err));
    return reopened;
  }

  /**
   * The clean slate of a released instance, inside the release transaction: the previous company's history
   * (messages, chats, contacts, pending acks, cached media, MCP approvals and audit), its instance keys
   * (revoked), its webhook and agent endpoints (their pending deliveries with them), and its name, settings,
   * webhook/MCP/agent configuration. Events stay in the log under the previous company's id, which every
   * company-scoped read filters on, so the next company never sees them.
   */
  private async wipe(tx: Repos, instanceId: string): Promise<void> {
    await tx.pool.clearInstanceData(instanceId);
    await tx.keys.revokeInstanceKeys(instanceId);
    await tx.pool.resetInstance(instanceId, POOL_COMPANY, `pool-${Date.now()}-${++this.seq}`);
  }

  /**
   * Follows the sessions this process runs through the events the supervisor publishes after each commit (called
   * synchronously from the publish, as the supervisor's hook was): pre-renders a free instance's QR, and releases
   * a pooled instance whose login ended.
   */
  private onEvent(e: GatewayEvent): void {
    if (this.closed || !e.instance_id) return;
    const instanceId = e.instance_id;
    if (e.type === 'qr') {
      // Free pooled instances belong to the pool company (a claim moves the instance to its company).
      const qr = e.data.qr;
      if (e.company_id === POOL_COMPANY && typeof qr === 'string') {
        void this.qrImage(qr).catch((err) => this.warn('pool QR image failed', err, instanceId));
      }
      return;
    }
    const reason = loginEnded(e);
    if (reason === null) return;
    const run = this.onLoginEnded(instanceId, reason)
      .catch((err) => this.warn('pool release failed', err, instanceId))
      .finally(() => this.ending.delete(run));
    this.ending.add(run);
  }

  /**
   * An instance's login ended: a pooled one goes back to the pool. The event does not say whether the instance is
   * pooled, so its row is read first (only for these rare events).
   * Ordering, as with the supervisor's former synchronous hook: the supervisor queues the close of a session that
   * ended itself (logged out, failed) on its per-instance lock before it writes and publishes the fact, and the
   * release's logout and restart take that same lock, so a release still runs only after the ended session was
   * stopped and forgotten — however late this subscriber runs. A QR is pre-rendered synchronously in the publish,
   * i.e. still before the provider's `emit` resolves.
   */
  private async onLoginEnded(instanceId: string, reason: string): Promise<void> {
    const inst = await this.deps.store.instances.get(instanceId);
    if (!inst?.is_pooled || this.closed) return;
    // An assigned instance goes back to the pool at once; a free one that failed (e.g. its QR expired) gets
    // a fresh session after a pause, so a provider that keeps failing is not restarted in a tight loop.
    if (inst.assigned_to !== null) {
      setImmediate(
        () =>
          void this.release(instanceId, reason).catch((err) =>
            this.warn('pool release failed', err, instanceId),
          ),
      );
      return;
    }
    const retry = this.retrying.get(instanceId);
    if (retry) {
      retry.again = true;
      return;
    }
    const state = { again: false };
    this.retrying.set(instanceId, state);
    void this.retryFree(instanceId, reason, state)
      .catch((err) => this.warn('pool release failed', err, instanceId))
      .finally(() => this.retrying.delete(instanceId));
  }

  /**
   * Reopens a free instance whose login ended, FREE_RETRY_MS after the end, and again on that cadence for as long
   * as it keeps ending: a reopened session that reports the same end status again (the row's status does not
   * change, so no event is published) or whose start failed is reopened at the next look. A reopened session
   * that is still quiet (no QR yet, the stop's `disconnected` carried over) is left alone and looked at again.
   * Stops once the session left the ended state, when the instance was claimed, or at shutdown.
   */
  private async retryFree(instanceId: string, reason: string, state: { again: boolean }): Promise<void> {
    let reopened: Instance | null | undefined;
    for (;;) {
      await new Promise<void>((r) => setTimeout(r, FREE_RETRY_MS).unref());
      if (this.closed) return;
      const inst = await this.deps.store.instances.get(instanceId);
      if (!inst?.is_pooled || inst.assigned_to !== null) return;
      const ended = isLoginEnd(inst.auth_status) || inst.status === 'error';
      if (reopened !== undefined && !ended && !state.again) return;
      // The first look reopens as the reported end asked; later ones only if the session wrote since its reopen.
      const reported = reopened === undefined || reopened === null || inst.updated_at !== reopened.updated_at;
      if (!state.again && !(ended && reported)) continue;
      state.again = false;
      reopened = await this.release(instanceId, reason);
    }
  }

  /** Stops background work (refills, releases) at shutdown. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await Promise.all([...this.ending].map(settled));
    // Waiting for them to settle only: each failure was already logged where it happened.
    await settled(this.refilling);
    await Promise.all([...this.releases.values()].map(settled));
  }

  /** Logs a background failure of the pool with its instance, if any. */
  private warn(what: string, err: unknown, instanceId?: string): void {
    this.deps.logger.warn({ ...(instanceId ? { instance_id: instanceId } : {}), err: String(err) }, what);
  }
}
