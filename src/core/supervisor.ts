// The session supervisor: at most one live session per instance in this process — the registry, the per-instance
// locks and the lifecycle (start, stop, restart, logout, resume, shutdown) with its status writes. What a session
// reports is handled by core/session-events.ts; commands for a session that another replica runs are forwarded by
// the decorator in core/session-forwarding.ts, so this file knows of other replicas only through the lease.
import { SbError } from '../domain/errors.js';
import type { Instance } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { IdentityStore } from '../ports/identities.js';
import type { SessionLeases } from '../ports/leases.js';
import type {
  OutboundMessage,
  ProviderLogger,
  ProviderRegistry,
  ProviderSession,
  SendResult,
} from '../ports/provider.js';
import type { MessageSpool } from '../ports/spool.js';
import type { Store } from '../ports/store.js';
import type { GroupCommitter } from './group-commit.js';
import type { InboundSpooler, SpoolObserver } from './inbound-spooler.js';
import type { FactResult, InboundFact } from './inbound-writer.js';
import { type EventSource, SessionEvents } from './session-events.js';
import { authOnStart, authOnStop, markLoggedOut, markStartFailed, transition } from './session-status.js';
import { settled } from './settled.js';
import { LeaseHeldElsewhere, type SessionSupervisor } from './supervisor-api.js';

export type { SessionSupervisor } from './supervisor-api.js';

interface LiveSession extends EventSource {
  session: ProviderSession;
}

export interface SupervisorDeps {
  store: Store;
  bus: EventBus;
  providers: ProviderRegistry;
  logger: ProviderLogger & { child(bindings: object): ProviderLogger };
  /** A session runs here only while this process holds its lease. Absent: hand-built single-process graphs. */
  leases?: SessionLeases;
  /** Durable spool for inbound messages that cannot be committed while the database is down (absent: none). */
  spool?: MessageSpool | null;
  /** Counts spooled, replayed and dropped inbound messages. */
  spoolObserver?: SpoolObserver;
  /** WhatsApp LID ↔ phone pairs: a message still named by a LID whose phone is known is stored under the phone. */
  identities?: IdentityStore;
}

/** The supervisor of this process's sessions; it runs every command here. */
export class LocalSupervisor implements SessionSupervisor {
  private readonly sessions = new Map<string, LiveSession>();
  /** Per-instance lock so start/stop/restart of one instance never interleave. */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Instances in the middle of a restart (their lease is held across it). */
  private readonly restarting = new Set<string>();
  private accepting = true;
  private readonly events: SessionEvents<LiveSession>;
  readonly inbound: InboundSpooler;
  readonly writer: GroupCommitter<InboundFact, FactResult>;

  constructor(private readonly deps: SupervisorDeps) {
    const { store, bus, logger, spool, spoolObserver, identities } = deps;
    this.events = new SessionEvents<LiveSession>({
      store,
      bus,
      logger,
      spool,
      spoolObserver,
      identities,
      endItself: (live, write) => this.endItself(live, write),
    });
    this.inbound = this.events.inbound;
    this.writer = this.events.writer;
  }

  has(instanceId: string): boolean {
    return this.sessions.has(instanceId);
  }

  get size(): number {
    return this.sessions.size;
  }

  liveInstanceIds(): string[] {
    // A session between the stop and the start of a restart has no live entry but keeps its lease: renew it too.
    return [...new Set([...this.sessions.keys(), ...this.restarting])];
  }

  async reachable(instanceId: string): Promise<boolean> {
    return this.sessions.has(instanceId);
  }

  async abandon(instanceId: string): Promise<void> {
    await this.withLock(instanceId, async () => {
      const live = this.sessions.get(instanceId);
      if (live) await this.closeSession(live);
    });
  }

  private async withLock<T>(instanceId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(instanceId) ?? Promise.resolve();
    // The previous holder's failure went to its own caller; this one runs either way.
    const run = settled(prev).then(fn);
    this.locks.set(instanceId, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(instanceId) === run) this.locks.delete(instanceId);
    }
  }

  /** Releases the lease; a failure only delays a takeover until the lease expires. */
  private async releaseLease(instanceId: string): Promise<void> {
    await this.deps.leases?.release(instanceId).catch((err) => {
      this.deps.logger.warn({ instance_id: instanceId, err: String(err) }, 'lease release failed');
    });
  }

  async start(instanceId: string): Promise<Instance> {
    if (!this.accepting) throw new SbError('SB_ERR_UNAVAILABLE', 'gateway is shutting down');
    return this.withLock(instanceId, () => this.startLocked(instanceId));
  }

  private async startLocked(instanceId: string): Promise<Instance> {
    const inst = await this.deps.store.instances.get(instanceId);
    if (!inst) throw new SbError('SB_ERR_INSTANCE_NOT_FOUND', `instance ${instanceId} not found`);
    if (this.sessions.has(instanceId)) {
      if (inst.desired_state !== 'running') {
        return (await this.deps.store.instances.update(instanceId, { desired_state: 'running' }))!;
      }
      return inst;
    }
    if (this.deps.leases && !(await this.deps.leases.acquire(instanceId)))
      throw new LeaseHeldElsewhere(instanceId);
    const factory = this.deps.providers.get(inst.provider);
    if (!factory) {
      const failed = await transition(this.deps, instanceId, {
        status: 'error',
        last_error: `provider ${inst.provider} is not available in this deployment`,
      });
      await this.releaseLease(instanceId);
      throw new SbError('SB_ERR_PROVIDER_UNKNOWN', `provider ${inst.provider} is not available`, {
        details: { instance: failed?.id },
      });
    }
    const started = await transition(this.deps, instanceId, {
      status: 'starting',
      desired_state: 'running',
      auth_status: authOnStart(inst.auth_status),
      last_error: null,
    });
    const live: LiveSession = {
      instanceId,
      companyId: inst.company_id,
      session: undefined as unknown as ProviderSession,
      queue: Promise.resolve(),
      closed: false,
      preassignsIds: factory.newMessageId !== undefined,
    };
    const logger = this.deps.logger.child({ instance_id: instanceId, provider: factory.name });
    live.session = factory.createSession({
      instanceId,
      companyId: inst.company_id,
      settings: inst.settings,
      previous: { auth_status: inst.auth_status, account: inst.account },
      logger,
      emit: (event) => this.events.emit(live, event),
    });
    this.sessions.set(instanceId, live);
    try {
      await live.session.start();
    } catch (err) {
      this.sessions.delete(instanceId);
      live.closed = true;
      const message = err instanceof Error ? err.message : String(err);
      logger.warn({ err: message }, 'session failed to start');
      await markStartFailed(this.deps, instanceId, message);
      await this.releaseLease(instanceId);
      throw new SbError('SB_ERR_PROVIDER', `session failed to start: ${message}`, { cause: err });
    }
    const running = await transition(this.deps, instanceId, { status: 'running' });
    return running ?? started!;
  }

  async stop(instanceId: string, opts: { desired?: 'stopped' | 'running' } = {}): Promise<Instance | null> {
    return this.withLock(instanceId, () => this.stopLocked(instanceId, opts.desired ?? 'stopped'));
  }

  private async stopLocked(
    instanceId: string,
    desired: 'stopped' | 'running',
    keepLease = false,
  ): Promise<Instance | null> {
    const live = this.sessions.get(instanceId);
    const inst = await this.deps.store.instances.get(instanceId);
    if (!inst) return null;
    if (live) {
      await transition(this.deps, instanceId, { status: 'stopping' });
      await this.closeSession(live);
    }
    const stopped = await transition(this.deps, instanceId, {
      status: 'stopped',
      desired_state: desired,
      auth_status: authOnStop(inst.auth_status),
      qr: null,
    });
    // Released only after the final write, so a replica taking the session over never sees it overwritten.
    if (live && !keepLease) await this.releaseLease(instanceId);
    return stopped;
  }

  private async closeSession(live: LiveSession): Promise<void> {
    live.closed = true;
    this.sessions.delete(live.instanceId);
    await this.stopProvider(live);
    await settled(live.queue);
  }

  /** Stops the provider's side of a session; a failure is logged (the session is over for us either way). */
  private async stopProvider(live: LiveSession): Promise<void> {
    try {
      await live.session.stop();
    } catch (err) {
      this.deps.logger.warn(
        { instance_id: live.instanceId, err: String(err) },
        'error while closing session',
      );
    }
  }

  async restart(instanceId: string): Promise<Instance> {
    return this.withLock(instanceId, async () => {
      // The lease is kept (and renewed) across the restart: released in between, another process could claim it.
      this.restarting.add(instanceId);
      try {
        await this.stopLocked(instanceId, 'running', true);
        return await this.startLocked(instanceId);
      } finally {
        this.restarting.delete(instanceId);
      }
    });
  }

  async logout(instanceId: string): Promise<Instance | null> {
    return this.withLock(instanceId, async () => {
      const live = this.sessions.get(instanceId);
      if (live) {
        try {
          await live.session.logout();
        } catch (err) {
          this.deps.logger.warn({ instance_id: instanceId, err: String(err) }, 'provider logout failed');
        }
        await this.closeSession(live);
      }
      const out = await markLoggedOut(this.deps, instanceId, 'requested');
      if (live) await this.releaseLease(instanceId);
      return out;
    });
  }

  async send(instanceId: string, msg: OutboundMessage): Promise<SendResult> {
    const live = this.sessions.get(instanceId);
    if (live?.closed) throw new SbError('SB_ERR_NOT_CONNECTED', 'the session has ended');
    if (!live) throw new SbError('SB_ERR_NOT_CONNECTED', 'the instance has no running session');
    return live.session.send(msg);
  }

  async control(instanceId: string, action: string, payload: Record<string, unknown>) {
    const live = this.sessions.get(instanceId);
    if (!live) throw new SbError('SB_ERR_NOT_CONNECTED', 'the instance has no running session');
    if (!live.session.control)
      throw new SbError('SB_ERR_UNSUPPORTED', `the provider does not support ${action}`);
    return live.session.control(action, payload);
  }

  /**
   * A session that ended itself (login failed, logged out by the phone). Its row is written first; then, under the
   * instance lock (so no start runs in between), the provider session is stopped, forgotten and its lease released.
   * A start that follows therefore never races the old session's stop.
   */
  private async endItself<T>(live: LiveSession, write: () => Promise<T>): Promise<T> {
    if (live.closed) return write();
    live.closed = true;
    const { instanceId } = live;
    let written!: () => void;
    const done = new Promise<void>((r) => {
      written = r;
    });
    void this.withLock(instanceId, async () => {
      await done;
      await this.stopProvider(live);
      if (this.sessions.get(instanceId) !== live) return;
      this.sessions.delete(instanceId);
      if (!this.restarting.has(instanceId)) await this.releaseLease(instanceId);
    });
    try {
      return await write();
    } finally {
      written();
    }
  }

  /** Failures are logged, not thrown. */
  async resumeDesired(filter: (i: Instance) => boolean = () => true): Promise<number> {
    const list = (await this.deps.store.instances.listDesiredRunning()).filter(filter);
    let started = 0;
    for (const inst of list) {
      try {
        await this.start(inst.id);
        started++;
      } catch (err) {
        this.deps.logger.warn({ instance_id: inst.id, err: String(err) }, 'could not resume session');
      }
    }
    return started;
  }

  async shutdown(): Promise<void> {
    this.accepting = false;
    await Promise.all(
      [...this.sessions.keys()].map((id) =>
        this.withLock(id, async () => {
          const inst = await this.deps.store.instances.get(id);
          return this.stopLocked(id, inst?.desired_state ?? 'running');
        }).catch((err) =>
          this.deps.logger.warn({ instance_id: id, err: String(err) }, 'stop at shutdown failed'),
        ),
      ),
    );
  }
}
