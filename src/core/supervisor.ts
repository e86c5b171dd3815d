// The session supervisor: at most one live session per instance in this process, and every fact a provider
// reports written to the instance row and the event log in one transaction, in the handler that learned it.
import { SbError } from '../domain/errors.js';
import type { Instance } from '../domain/model.js';
import type { AuthStatus, InstanceStatus } from '../domain/statuses.js';
import { scrubDeep } from '../domain/text.js';
import type { EventBus } from '../ports/event-bus.js';
import type { IdentityStore } from '../ports/identities.js';
import type { ClusterCommand, CommandForwarder, SessionLeases } from '../ports/leases.js';
import type {
  OutboundMessage,
  ProviderEvent,
  ProviderLogger,
  ProviderRegistry,
  ProviderSession,
  SendResult,
} from '../ports/provider.js';
import type { MessageSpool, SpoolRecord } from '../ports/spool.js';
import type { InstancePatch, Repos, Store } from '../ports/store.js';
import { phoneOfJid } from './addressing.js';
import { commitWithEvents, type Emit } from './commit.js';
import type { GroupCommitter } from './group-commit.js';
import { InboundSpooler, type SpoolObserver } from './inbound-spooler.js';
import { createInboundWriter, type FactResult, type InboundFact } from './inbound-writer.js';
import { settled } from './settled.js';

interface LiveSession {
  instanceId: string;
  /** The company when the session started; events and rows use the instance's current company instead. */
  companyId: string;
  session: ProviderSession;
  /** Serialises the handling of this session's provider events. */
  queue: Promise<void>;
  closed: boolean;
  /** The provider stores each send under an id of its own choosing (`newMessageId`): acks need no id lock. */
  preassignsIds: boolean;
}

export interface SupervisorDeps {
  store: Store;
  bus: EventBus;
  providers: ProviderRegistry;
  logger: ProviderLogger & { child(bindings: object): ProviderLogger };
  /** Cluster mode: a session runs here only while this replica holds its lease. Absent: single process. */
  leases?: SessionLeases;
  /** Cluster mode: runs session commands on the replica that owns the session. */
  forwarder?: CommandForwarder;
  /** Durable spool for inbound messages that cannot be committed while the database is down (absent: none). */
  spool?: MessageSpool | null;
  /** Counts spooled, replayed and dropped inbound messages. */
  spoolObserver?: SpoolObserver;
  /** WhatsApp LID ↔ phone pairs: a message still named by a LID whose phone is known is stored under the phone. */
  identities?: IdentityStore;
}

const CONNECTED: ReadonlySet<AuthStatus> = new Set(['authenticated', 'client_ready']);

export class SessionSupervisor {
  private readonly sessions = new Map<string, LiveSession>();
  /** Per-instance lock so start/stop/restart of one instance never interleave. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private accepting = true;
  /** Inbound message writes: retried, spooled while the database is down, replayed in order. */
  readonly inbound: InboundSpooler;
  /** Group commit of inbound messages and acks across sessions (see core/inbound-writer.ts). */
  readonly writer: GroupCommitter<InboundFact, FactResult>;

  constructor(private readonly deps: SupervisorDeps) {
    this.writer = createInboundWriter({ store: deps.store, bus: deps.bus });
    this.inbound = new InboundSpooler({
      spool: deps.spool ?? null,
      commit: (rec) => this.commitMessage(rec),
      logger: deps.logger,
      observer: deps.spoolObserver,
    });
  }

  /** True when this process holds a live session for the instance. */
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

  /** Instances in the middle of a restart (their lease is held across it). */
  private readonly restarting = new Set<string>();

  /** True when a send can reach a live session: here, or (cluster mode) on the replica holding the lease. */
  async reachable(instanceId: string): Promise<boolean> {
    if (this.sessions.has(instanceId)) return true;
    if (!this.deps.leases) return false;
    // A lease of this process without a live session here (it ended on its own) reaches nothing.
    const owner = await this.deps.leases.owner(instanceId);
    return owner !== null && owner !== this.deps.leases.replicaId;
  }

  /** Runs the command on the owning replica; null when there is none (or it is this one) and it runs here. */
  private async forward(cmd: ClusterCommand): Promise<{ result: unknown } | null> {
    if (!this.deps.forwarder || this.sessions.has(cmd.instance_id)) return null;
    const r = await this.deps.forwarder.forward(cmd);
    return r.handled ? { result: r.result } : null;
  }

  /** Releases the lease (cluster mode); a failure only delays a takeover until the lease expires. */
  private async releaseLease(instanceId: string): Promise<void> {
    await this.deps.leases?.release(instanceId).catch((err) => {
      this.deps.logger.warn({ instance_id: instanceId, err: String(err) }, 'lease release failed');
    });
  }

  /**
   * Closes the local session without writing anything (cluster mode: the lease was lost, another replica may
   * already run the session and owns the instance row's status). No-op when not live here.
   */
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

  /** Writes a status/auth change and its `instance.status` event in one transaction. */
  private async transition(
    instanceId: string,
    patch: InstancePatch,
    extra: (tx: Repos, emit: Emit, before: Instance, after: Instance) => Promise<void> = async () => {},
    reason?: string,
  ): Promise<Instance | null> {
    return commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
      const before = await tx.instances.getForUpdate(instanceId);
      if (!before) return null;
      const after = (await tx.instances.update(instanceId, patch))!;
      if (before.status !== after.status || before.auth_status !== after.auth_status) {
        await emit({
          type: 'instance.status',
          instance_id: instanceId,
          company_id: after.company_id,
          data: {
            status: after.status,
            auth_status: after.auth_status,
            previous_status: before.status,
            previous_auth_status: before.auth_status,
            account: after.account,
            ...(reason ? { reason } : {}),
          },
        });
      }
      await extra(tx, emit, before, after);
      return after;
    });
  }

  /** Opens the instance's session (desired state becomes running). No-op if already live here. */
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
    if (this.deps.leases && !(await this.deps.leases.acquire(instanceId))) {
      const fwd = await this.forward({ op: 'start', instance_id: instanceId });
      if (fwd) return fwd.result as Instance;
      throw new SbError('SB_ERR_UNAVAILABLE', 'another replica holds this session', {
        details: { instance: instanceId },
      });
    }
    const factory = this.deps.providers.get(inst.provider);
    if (!factory) {
      const failed = await this.transition(instanceId, {
        status: 'error',
        last_error: `provider ${inst.provider} is not available in this deployment`,
      });
      await this.releaseLease(instanceId);
      throw new SbError('SB_ERR_PROVIDER_UNKNOWN', `provider ${inst.provider} is not available`, {
        details: { instance: failed?.id },
      });
    }
    const started = await this.transition(instanceId, {
      status: 'starting',
      desired_state: 'running',
      auth_status:
        inst.auth_status === 'client_ready' || inst.auth_status === 'authenticated'
          ? 'reconnecting'
          : inst.auth_status === 'logged_out' || inst.auth_status === 'failed'
            ? 'pending'
            : inst.auth_status,
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
      // Messenger input may hold bytes PostgreSQL refuses (U+0000, lone surrogates): scrubbed here, the one point
      // every provider event passes, so a contact's name or text never drops a message.
      emit: (event) => this.enqueue(live, scrubDeep(event)),
    });
    this.sessions.set(instanceId, live);
    try {
      await live.session.start();
    } catch (err) {
      this.sessions.delete(instanceId);
      live.closed = true;
      const message = err instanceof Error ? err.message : String(err);
      logger.warn({ err: message }, 'session failed to start');
      await this.transition(
        instanceId,
        { status: 'error', last_error: message },
        async (_tx, emit, _b, after) => {
          await emit({
            type: 'error',
            instance_id: instanceId,
            company_id: after.company_id,
            data: { message, code: 'start_failed' },
          });
        },
      );
      await this.releaseLease(instanceId);
      throw new SbError('SB_ERR_PROVIDER', `session failed to start: ${message}`, { cause: err });
    }
    const running = await this.transition(instanceId, { status: 'running' });
    return running ?? started!;
  }

  /** Closes the session without logging out. `desired` records whether it should run after a restart. */
  async stop(instanceId: string, opts: { desired?: 'stopped' | 'running' } = {}): Promise<Instance | null> {
    return this.withLock(instanceId, () => this.stopLocked(instanceId, opts.desired ?? 'stopped'));
  }

  private async stopLocked(
    instanceId: string,
    desired: 'stopped' | 'running',
    keepLease = false,
  ): Promise<Instance | null> {
    const live = this.sessions.get(instanceId);
    if (!live && desired === 'stopped') {
      const fwd = await this.forward({ op: 'stop', instance_id: instanceId });
      if (fwd) return fwd.result as Instance | null;
    }
    const inst = await this.deps.store.instances.get(instanceId);
    if (!inst) return null;
    if (live) {
      await this.transition(instanceId, { status: 'stopping' });
      await this.closeSession(live);
    }
    const auth: AuthStatus =
      CONNECTED.has(inst.auth_status) || inst.auth_status === 'reconnecting'
        ? 'disconnected'
        : inst.auth_status === 'qr_ready'
          ? 'pending'
          : inst.auth_status;
    const stopped = await this.transition(instanceId, {
      status: 'stopped',
      desired_state: desired,
      auth_status: auth,
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
      const fwd = await this.forward({ op: 'restart', instance_id: instanceId });
      if (fwd) return fwd.result as Instance;
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

  /** Logs the account out and stops the session; the next start needs a new login. */
  async logout(instanceId: string): Promise<Instance | null> {
    return this.withLock(instanceId, async () => {
      const fwd = await this.forward({ op: 'logout', instance_id: instanceId });
      if (fwd) return fwd.result as Instance | null;
      const live = this.sessions.get(instanceId);
      if (live) {
        try {
          await live.session.logout();
        } catch (err) {
          this.deps.logger.warn({ instance_id: instanceId, err: String(err) }, 'provider logout failed');
        }
        await this.closeSession(live);
      }
      const out = await this.markLoggedOut(instanceId, 'requested');
      if (live) await this.releaseLease(instanceId);
      return out;
    });
  }

  private async markLoggedOut(instanceId: string, reason: string): Promise<Instance | null> {
    return this.transition(
      instanceId,
      { status: 'stopped', auth_status: 'logged_out', desired_state: 'stopped', account: null, qr: null },
      async (_tx, emit, before, after) => {
        if (before.auth_status !== 'logged_out') {
          await emit({
            type: 'logout',
            instance_id: instanceId,
            company_id: after.company_id,
            data: { reason, account: before.account },
          });
        }
      },
      reason,
    );
  }

  async send(instanceId: string, msg: OutboundMessage): Promise<SendResult> {
    const live = this.sessions.get(instanceId);
    if (live?.closed) throw new SbError('SB_ERR_NOT_CONNECTED', 'the session has ended');
    if (!live) {
      const fwd = await this.forward({ op: 'send', instance_id: instanceId, msg });
      if (fwd) return fwd.result as SendResult;
      throw new SbError('SB_ERR_NOT_CONNECTED', 'the instance has no running session');
    }
    return live.session.send(msg);
  }

  async control(instanceId: string, action: string, payload: Record<string, unknown>) {
    const live = this.sessions.get(instanceId);
    if (!live) {
      const fwd = await this.forward({ op: 'control', instance_id: instanceId, action, payload });
      if (fwd) return fwd.result as Record<string, unknown>;
      throw new SbError('SB_ERR_NOT_CONNECTED', 'the instance has no running session');
    }
    if (!live.session.control)
      throw new SbError('SB_ERR_UNSUPPORTED', `the provider does not support ${action}`);
    return live.session.control(action, payload);
  }

  private enqueue(live: LiveSession, event: ProviderEvent): Promise<void> {
    // Each event's failure goes to the provider that emitted it (its `emit` rejects); the queue moves on.
    const run = settled(live.queue).then(() => this.handle(live, event));
    live.queue = settled(run);
    return run;
  }

  /** Persists one provider fact and publishes its events; the single place that learns from providers. */
  private async handle(live: LiveSession, event: ProviderEvent): Promise<void> {
    const { instanceId } = live;
    // Facts about messages still count after the session closed (a stopping session reports what it still holds).
    if (live.closed && event.type !== 'message' && event.type !== 'ack' && event.type !== 'decrypt_failed')
      return;
    switch (event.type) {
      case 'qr':
        await this.transition(
          instanceId,
          { qr: event.qr, auth_status: 'qr_ready' },
          async (tx, emit, _before, after) => {
            const ev = await emit({
              type: 'qr',
              instance_id: instanceId,
              company_id: after.company_id,
              data: { qr: event.qr },
            });
            // Coalesced: the log keeps only the latest QR of an instance (an unscanned QR rotates every ~20 s).
            await tx.events.deleteOlderOfType(instanceId, 'qr', ev.id);
          },
        );
        break;
      case 'auth':
        await this.handleAuth(live, event);
        break;
      case 'message':
        await this.storeMessage(live, event.message);
        break;
      case 'ack':
        // Group-committed with other sessions' facts; an ack that overtook its send's commit is kept for it (on
        // the row when the provider chose the id, else stashed under the id until the send records it).
        await this.writer.submit({
          kind: 'ack',
          instance_id: instanceId,
          message_id: event.message_id,
          status: event.status,
          preassigned: live.preassignsIds,
        });
        break;
      case 'error':
        await this.transition(
          instanceId,
          { last_error: event.message },
          async (_tx, emit, _before, after) => {
            await emit({
              type: 'error',
              instance_id: instanceId,
              company_id: after.company_id,
              data: { message: event.message, code: event.code ?? null },
            });
          },
        );
        break;
      case 'group':
        await this.transition(instanceId, {}, async (_tx, emit, _before, after) => {
          const base = { instance_id: instanceId, company_id: after.company_id };
          await emit(
            event.event === 'group.participants'
              ? { ...base, type: event.event, data: event.data }
              : { ...base, type: event.event, data: event.data },
          );
        });
        break;
      case 'reconnect_failed':
      case 'health_check_failed':
        await this.transition(instanceId, {}, async (_tx, emit, _before, after) => {
          const base = { instance_id: instanceId, company_id: after.company_id };
          if (event.type === 'reconnect_failed') {
            const { type, ...data } = event;
            await emit({ ...base, type, data });
          } else {
            const { type, ...data } = event;
            await emit({ ...base, type, data });
          }
        });
        break;
      case 'decrypt_failed':
        await this.transition(instanceId, {}, async (_tx, emit, _before, after) => {
          const { type: _t, ...data } = event;
          await emit({
            type: 'message.decrypt_failed',
            instance_id: instanceId,
            company_id: after.company_id,
            data,
          });
        });
        break;
      case 'history': {
        // History is stored by the provider (never as `message` events); its progress is published here.
        const { type: _t, totals, complete, ...chunk } = event;
        await this.transition(instanceId, {}, async (_tx, emit, _before, after) => {
          const base = { instance_id: instanceId, company_id: after.company_id };
          await emit({ type: 'history.progress', ...base, data: { ...chunk, complete } });
          if (complete && totals)
            await emit({ type: 'history.synced', ...base, data: { sync_type: chunk.sync_type, ...totals } });
        });
        break;
      }
    }
  }

  private async handleAuth(live: LiveSession, event: Extract<ProviderEvent, { type: 'auth' }>) {
    const { instanceId } = live;
    if (event.auth_status === 'logged_out') {
      // The messenger ended the login (phone removed the device): close our side, never reconnect.
      return this.endItself(live, () => this.markLoggedOut(instanceId, event.reason ?? 'remote'));
    }
    const patch: InstancePatch = { auth_status: event.auth_status };
    if (event.account !== undefined) patch.account = event.account;
    if (CONNECTED.has(event.auth_status)) patch.qr = null;
    if (event.auth_status === 'failed') {
      patch.status = 'error' satisfies InstanceStatus;
      patch.last_error = event.reason ?? 'login failed';
    }
    const write = () =>
      this.transition(
        instanceId,
        patch,
        async (_tx, emit, before, after) => {
          if (event.auth_status === 'client_ready' && before.auth_status !== 'client_ready') {
            await emit({
              type: 'connected',
              instance_id: instanceId,
              company_id: after.company_id,
              data: {
                account: after.account,
                phone: after.account ? (phoneOfJid(after.account) ?? after.account) : null,
              },
            });
          }
        },
        event.reason,
      );
    return event.auth_status === 'failed' ? this.endItself(live, write) : write();
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

  private async storeMessage(live: LiveSession, m: Extract<ProviderEvent, { type: 'message' }>['message']) {
    const rec = { instance_id: live.instanceId, company_id: live.companyId, message: m };
    await this.inbound.write({ ...rec, spooled_at: new Date().toISOString() });
    return null;
  }

  /**
   * Stores one inbound message with its chat, contact and event (idempotent on instance id + message id), group
   * committed with the facts other sessions report meanwhile.
   */
  private async commitMessage(rec: SpoolRecord): Promise<void> {
    // A LID whose phone became known while the message waited is stored under the phone (issue 18).
    const message = await this.canonicalLids(rec.instance_id, rec.message);
    await this.writer.submit({ kind: 'message', rec: { ...rec, message } });
  }

  /**
   * A chat or sender still named by a LID whose phone became known while the message waited (issue 18: the pair was
   * learned and merged in between) is stored under the phone, so the merge leaves nothing behind. Mentioned LIDs
   * (WhatsApp mentions by LID in LID-addressed groups) become phone JIDs the same way when the phone is known.
   */
  private async canonicalLids(
    instanceId: string,
    m: SpoolRecord['message'],
  ): Promise<SpoolRecord['message']> {
    const ids = this.deps.identities;
    const lidMentions = m.mentions?.some((j) => j.endsWith('@lid')) ?? false;
    if (!ids || !(m.chat_id.endsWith('@lid') || m.from?.endsWith('@lid') || lidMentions)) return m;
    const pn = async (jid: string | null) =>
      jid?.endsWith('@lid') ? ((await ids.pnForLid(instanceId, jid.replace(/:\d+@/, '@'))) ?? jid) : jid;
    const from = await pn(m.from);
    const chat = m.is_group ? m.chat_id : ((await pn(m.chat_id)) ?? m.chat_id);
    const mentions = lidMentions
      ? [...new Set(await Promise.all((m.mentions ?? []).map(async (j) => (await pn(j)) ?? j)))]
      : m.mentions;
    return {
      ...m,
      chat_id: chat,
      from,
      contact_phone: m.contact_phone ?? (from ? phoneOfJid(from) : null),
      ...(mentions ? { mentions } : {}),
    };
  }

  /** Starts every instance whose desired state is running (after a restart). Failures are logged, not thrown. */
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

  /** Graceful shutdown: refuse new sessions, close all (no logout), desired state kept as it was. */
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
