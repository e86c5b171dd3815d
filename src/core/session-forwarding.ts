// Cluster forwarding as a decorator around a supervisor: a command for a session that another replica runs (it
// holds the instance's lease) is sent to that replica; everything else goes to the supervisor it wraps.
import type { Instance } from '../domain/model.js';
import type { ClusterCommand, CommandForwarder, SessionLeases } from '../ports/leases.js';
import type { OutboundMessage, SendResult } from '../ports/provider.js';
import { LeaseHeldElsewhere, type SessionSupervisor } from './supervisor-api.js';

export interface ForwardingDeps {
  /** Runs a command on the replica that holds the lease (never again on one that got it forwarded). */
  forwarder: CommandForwarder;
  /** Who holds a lease, and who we are (for `reachable`). */
  leases: Pick<SessionLeases, 'owner' | 'replicaId'>;
}

/** Forwards the session commands (start, stop, restart, logout, send, control) when the session runs elsewhere. */
export class ForwardingSupervisor implements SessionSupervisor {
  constructor(
    private readonly local: SessionSupervisor,
    private readonly deps: ForwardingDeps,
  ) {}

  get inbound() {
    return this.local.inbound;
  }
  get writer() {
    return this.local.writer;
  }
  get size(): number {
    return this.local.size;
  }
  has(instanceId: string): boolean {
    return this.local.has(instanceId);
  }
  liveInstanceIds(): string[] {
    return this.local.liveInstanceIds();
  }
  abandon(instanceId: string): Promise<void> {
    return this.local.abandon(instanceId);
  }
  /** Resumes here only: a replica claims its sessions through the lease runtime (runtime/cluster.ts). */
  resumeDesired(filter?: (i: Instance) => boolean): Promise<number> {
    return this.local.resumeDesired(filter);
  }
  shutdown(): Promise<void> {
    return this.local.shutdown();
  }

  async reachable(instanceId: string): Promise<boolean> {
    if (this.local.has(instanceId)) return true;
    // A lease of this process without a live session here (it ended on its own) reaches nothing.
    const owner = await this.deps.leases.owner(instanceId);
    return owner !== null && owner !== this.deps.leases.replicaId;
  }

  /** The owner's result when the session is not live here and another replica holds its lease; else null. */
  private async forward(cmd: ClusterCommand): Promise<{ result: unknown } | null> {
    if (this.local.has(cmd.instance_id)) return null;
    const r = await this.deps.forwarder.forward(cmd);
    return r.handled ? { result: r.result } : null;
  }

  /** Runs `run` here; a start that finds the lease held by another replica runs on that replica instead. */
  private async orStartThere<T>(instanceId: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof LeaseHeldElsewhere)) throw err;
      const fwd = await this.forward({ op: 'start', instance_id: instanceId });
      if (!fwd) throw err;
      return fwd.result as T;
    }
  }

  start(instanceId: string): Promise<Instance> {
    // Tried here first: taking the lease is the one statement a start costs; only a refused lease asks its owner.
    return this.orStartThere(instanceId, () => this.local.start(instanceId));
  }

  async stop(instanceId: string, opts: { desired?: 'stopped' | 'running' } = {}): Promise<Instance | null> {
    // Only an explicit stop is forwarded; one that keeps the desired state running is this process's own.
    if ((opts.desired ?? 'stopped') === 'stopped') {
      const fwd = await this.forward({ op: 'stop', instance_id: instanceId });
      if (fwd) return fwd.result as Instance | null;
    }
    return this.local.stop(instanceId, opts);
  }

  async restart(instanceId: string): Promise<Instance> {
    const fwd = await this.forward({ op: 'restart', instance_id: instanceId });
    if (fwd) return fwd.result as Instance;
    return this.orStartThere(instanceId, () => this.local.restart(instanceId));
  }

  async logout(instanceId: string): Promise<Instance | null> {
    const fwd = await this.forward({ op: 'logout', instance_id: instanceId });
    if (fwd) return fwd.result as Instance | null;
    return this.local.logout(instanceId);
  }

  async send(instanceId: string, msg: OutboundMessage): Promise<SendResult> {
    const fwd = await this.forward({ op: 'send', instance_id: instanceId, msg });
    if (fwd) return fwd.result as SendResult;
    return this.local.send(instanceId, msg);
  }

  async control(instanceId: string, action: string, payload: Record<string, unknown>) {
    const fwd = await this.forward({ op: 'control', instance_id: instanceId, action, payload });
    if (fwd) return fwd.result as Record<string, unknown>;
    return this.local.control(instanceId, action, payload);
  }
}
