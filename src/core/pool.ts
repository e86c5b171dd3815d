// Warm pool (seed 004): free instances waiting with a QR, claimed atomically by a company, released on logout.

import { SbError } from '../domain/errors.js';
import type { Instance, Principal } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { ProviderEvent, ProviderLogger, ProviderRegistry } from '../ports/provider.js';
import type { Repos, Store } from '../ports/store.js';
import { commitWithEvents } from './commit.js';
import { ConnectionRepo, LostRace } from './connections.js';
import type { CredentialService } from './keys.js';
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
/** Provider-reported ends of a login that release a pooled instance (WAHA STOPPED maps to `disconnected`). */
const ENDED: ReadonlySet<string> = new Set(['logged_out', 'failed', 'disconnected']);
const QR_CACHE_MAX = 2_000;

export class PoolService {
  private refilling: Promise<void> | null = null;
  private readonly releases = new Map<string, Promise<void>>();
  private readonly qrImages = new Map<string, Promise<string>>();
  private closed = false;
  private seq = 0;

  constructor(private readonly deps: PoolDeps) {}

  get enabled(): boolean {
    return this.deps.options.enabled && !!this.deps.providers.get(this.deps.options.provider);
  }

  private get s(): string {
    return this.deps.store.qschema;
  }

  /** The PNG data URL of a QR, rendered once per QR payload (pre-rendered for pooled instances). */
  qrImage(qr: string): Promise<string> {
    let img = this.qrImages.get(qr);
    if (!img) {
      if (this.qrImages.size >= QR_CACHE_MAX) this.qrImages.delete(this.qrImages.keys().next().value!);
      img = this.deps.renderQr(qr);
      this.qrImages.set(qr, img);
      img.catch(() => this.qrImages.delete(qr));
    }
    return img;
  }

  async stats(): Promise<PoolStats> {
    const o = this.deps.options;
    const rows = await this.deps.store.sql.query<Record<string, number>>(
      `SELECT count(*)::int AS size,
              count(*) FILTER (WHERE assigned_to IS NULL)::int AS free,
              count(*) FILTER (WHERE assigned_to IS NULL AND auth_status = 'qr_ready' AND qr IS NOT NULL)::int AS ready,
              count(*) FILTER (WHERE assigned_to IS NOT NULL)::int AS in_use
         FROM ${this.s}.instances WHERE is_pooled`,
    );
    const r = rows[0] ?? { size: 0, free: 0, ready: 0, in_use: 0 };
    return {
      enabled: this.enabled,
      provider: o.provider,
      size: Number(r.size),
      free: Number(r.free),
      ready: Number(r.ready),
      in_use: Number(r.in_use),
      target: o.size,
      min_free: o.minFree,
      refill: o.refill,
      refilling: this.refilling !== null,
    };
  }

  /** At start: tops the pool up to POOL_SIZE free instances and opens the sessions of free ones not running. */
  async fill(): Promise<void> {
    if (!this.enabled) return;
    const free = await this.deps.store.sql.query<{ id: string }>(
      `SELECT id::text AS id FROM ${this.s}.instances WHERE is_pooled AND assigned_to IS NULL ORDER BY created_at`,
    );
    const idle = free.map((r) => r.id).filter((id) => !this.deps.supervisor.has(id));
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

  private async refillIfLow(free?: number): Promise<void> {
    if (free === undefined) {
      const rows = await this.deps.store.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${this.s}.instances WHERE is_pooled AND assigned_to IS NULL`,
      );
      free = Number(rows[0]?.n ?? 0);
    }
    if (free < this.deps.options.minFree) void this.refill();
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
          api_webhook_schema: {},
          mcp_schema: {},
          agent: {},
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
   * claimed in a single statement (`FOR UPDATE SKIP LOCKED`), so concurrent callers never share an instance.
   * Throws SB_ERR_POOL_EMPTY (and starts a refill) when none is free.
   */
  async connect(p: Principal): Promise<ConnectResult> {
    const companyId = this.companyOf(p);
    const existing = await ConnectionRepo.of(this.deps.store).get(companyId);
    if (existing) return this.current(existing.instance_id);
    if (!this.enabled) throw new SbError('SB_ERR_POOL_EMPTY', 'the warm pool is disabled in this deployment');
    const claimed = await this.claim(companyId);
    if (claimed === 'exists') {
      const again = await ConnectionRepo.of(this.deps.store).get(companyId);
      if (again) return this.current(again.instance_id);
    }
    if (!claimed || claimed === 'exists') {
      void this.refill();
      throw new SbError('SB_ERR_POOL_EMPTY', 'no free WhatsApp instance right now; more are being created');
    }
    void this.refillIfLow(claimed.freeAfter).catch((err) => this.warn('pool refill failed', err));
    // No restart: the running session writes every event and row with the instance's current company.
    return { kind: 'qr', instance: claimed, qrCode: await this.qrImage(claimed.qr!) };
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
        const rows = await tx.sql.query<Record<string, any>>(
          `WITH claimed AS (
             UPDATE ${this.s}.instances SET assigned_to = $1, company_id = $1, updated_at = now()
              WHERE id = (SELECT id FROM ${this.s}.instances
                           WHERE is_pooled AND assigned_to IS NULL AND status = 'running'
                             AND auth_status = 'qr_ready' AND qr IS NOT NULL
                           ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
              RETURNING id, name, qr, status, auth_status, account, provider
           ), recorded AS (
             INSERT INTO ${this.s}.company_connections (company_id, instance_id, source)
             SELECT $1, id, 'pool' FROM claimed ON CONFLICT DO NOTHING RETURNING instance_id
           )
           SELECT c.id::text AS id, c.name, c.qr, c.status, c.auth_status, c.account, c.provider,
                  (SELECT count(*)::int FROM recorded) AS recorded,
                  (SELECT count(*)::int FROM ${this.s}.instances WHERE is_pooled AND assigned_to IS NULL) - 1
                    AS free_after
             FROM claimed c`,
          [companyId],
        );
        const r = rows[0];
        if (!r) return null;
        if (Number(r.recorded) !== 1) throw new LostRace();
        await emit({
          type: 'pool.assigned',
          instance_id: r.id,
          company_id: companyId,
          data: { name: r.name, provider: r.provider },
        });
        return {
          id: r.id as string,
          name: r.name as string | null,
          qr: r.qr as string | null,
          status: r.status,
          auth_status: r.auth_status,
          account: r.account as string | null,
          freeAfter: Number(r.free_after),
        };
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
    const conn = await ConnectionRepo.of(this.deps.store).get(companyId);
    if (!conn) return false;
    if (conn.source === 'pool') await this.release(conn.instance_id, 'disconnect');
    else await this.deps.supervisor.logout(conn.instance_id);
    return true;
  }

  /** Releases a pooled instance (idempotent; concurrent calls share one run). */
  release(instanceId: string, reason: string): Promise<void> {
    let run = this.releases.get(instanceId);
    if (!run) {
      run = this.releaseNow(instanceId, reason).finally(() => this.releases.delete(instanceId));
      this.releases.set(instanceId, run);
    }
    return run;
  }

  private async releaseNow(instanceId: string, reason: string): Promise<void> {
    const inst = await this.deps.store.instances.get(instanceId);
    if (!inst?.is_pooled) return;
    if (inst.assigned_to !== null) {
      if (this.deps.supervisor.has(instanceId) || inst.auth_status !== 'logged_out') {
        await this.deps.supervisor.logout(instanceId);
      }
      await commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
        await ConnectionRepo.of(tx).deleteByInstance(instanceId);
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
    if (!this.closed) {
      const sv = this.deps.supervisor;
      await (sv.has(instanceId) ? sv.restart(instanceId) : sv.start(instanceId)).catch((err) =>
        this.warn('pooled session failed to restart', err, instanceId),
      );
    }
    if (!this.closed) void this.refillIfLow().catch((err) => this.warn('pool refill failed', err));
  }

  /**
   * The clean slate of a released instance, inside the release transaction: the previous company's history
   * (messages, chats, contacts, pending acks, cached media, MCP approvals and audit), its instance keys
   * (revoked), its webhook and agent endpoints (their pending deliveries with them), and its name, settings,
   * webhook/MCP/agent configuration. Events stay in the log under the previous company's id, which every
   * company-scoped read filters on, so the next company never sees them.
   */
  private async wipe(tx: Repos, instanceId: string): Promise<void> {
    // Deliveries before their endpoints, the order the delivery worker locks them in (no deadlock with it).
    await tx.sql.query(
      `DELETE FROM ${this.s}.webhook_deliveries
        WHERE endpoint_id IN (SELECT id FROM ${this.s}.webhook_endpoints WHERE instance_id = $1)`,
      [instanceId],
    );
    await tx.sql.query(`DELETE FROM ${this.s}.webhook_endpoints WHERE instance_id = $1`, [instanceId]);
    for (const table of [
      'messages',
      'chats',
      'contacts',
      'pending_acks',
      'whatsapp_media',
      'whatsapp_identities',
      'mcp_approvals',
      'mcp_audit',
    ]) {
      await tx.sql.query(`DELETE FROM ${this.s}.${table} WHERE instance_id = $1`, [instanceId]);
    }
    await tx.keys.revokeInstanceKeys(instanceId);
    await tx.sql.query(
      `UPDATE ${this.s}.instances SET company_id = $2, assigned_to = NULL, account = NULL, qr = NULL,
              last_error = NULL, name = $3, type_instance = ARRAY['api']::text[], settings = '{}'::jsonb,
              api_webhook_schema = '{}'::jsonb, mcp_schema = '{}'::jsonb, agent = '{}'::jsonb,
              updated_at = now()
        WHERE id = $1`,
      [instanceId, POOL_COMPANY, `pool-${Date.now()}-${++this.seq}`],
    );
  }

  /** Supervisor hook: pre-renders pool QRs, releases an instance when its login ends or fails. */
  onProviderEvent(inst: Instance, event: ProviderEvent): void {
    if (!inst.is_pooled || this.closed) return;
    if (event.type === 'qr' && inst.assigned_to === null) {
      void this.qrImage(event.qr).catch((err) => this.warn('pool QR image failed', err, inst.id));
      return;
    }
    if (event.type !== 'auth') return;
    if (ENDED.has(event.auth_status)) {
      // An assigned instance goes back to the pool at once; a free one that failed (e.g. its QR expired) gets
      // a fresh session after a pause, so a provider that keeps failing is not restarted in a tight loop.
      const run = () =>
        void this.release(inst.id, event.reason ?? event.auth_status).catch((err) =>
          this.warn('pool release failed', err, inst.id),
        );
      if (inst.assigned_to !== null) setImmediate(run);
      else setTimeout(run, FREE_RETRY_MS).unref();
    }
  }

  /** Stops background work (refills, releases) at shutdown. */
  async close(): Promise<void> {
    this.closed = true;
    // Waiting for them to settle only: each failure was already logged where it happened.
    await settled(this.refilling);
    await Promise.all([...this.releases.values()].map(settled));
  }

  /** Logs a background failure of the pool with its instance, if any. */
  private warn(what: string, err: unknown, instanceId?: string): void {
    this.deps.logger.warn({ ...(instanceId ? { instance_id: instanceId } : {}), err: String(err) }, what);
  }
}
