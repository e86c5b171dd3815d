// Forwards session commands to the replica holding the lease, and runs the ones other replicas send here.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { SessionSupervisor } from '../core/supervisor.js';
import { SbError } from '../domain/errors.js';
import type { ClusterCommand, CommandForwarder, SessionLeases } from '../ports/leases.js';
import { type CommandReply, type CommandTransport, errorReply, replyError } from './command-transport.js';

/** Set while running a command that came from another replica: it is never forwarded again (no ping-pong). */
const forwarded = new AsyncLocalStorage<boolean>();

export class ClusterForwarder implements CommandForwarder {
  private supervisor: SessionSupervisor | null = null;

  constructor(
    private readonly leases: SessionLeases,
    private readonly transport: CommandTransport,
    private readonly timeoutMs: number,
  ) {}

  async forward(cmd: ClusterCommand): Promise<{ handled: false } | { handled: true; result: unknown }> {
    if (forwarded.getStore()) return { handled: false };
    const owner = await this.leases.owner(cmd.instance_id);
    if (!owner || owner === this.leases.replicaId) return { handled: false };
    const reply = await this.transport.request(owner, cmd, this.timeoutMs);
    if (reply.ok) return { handled: true, result: reply.result };
    throw replyError(reply.error);
  }

  /** Starts answering commands addressed to this replica with `supervisor`. */
  async serve(supervisor: SessionSupervisor): Promise<void> {
    this.supervisor = supervisor;
    await this.transport.serve((cmd) => forwarded.run(true, () => this.execute(cmd)));
  }

  private async execute(cmd: ClusterCommand): Promise<CommandReply> {
    const sup = this.supervisor;
    if (!sup) return errorReply(new SbError('SB_ERR_UNAVAILABLE', 'replica is not ready'));
    try {
      const id = cmd.instance_id;
      let result: unknown;
      switch (cmd.op) {
        case 'send':
          result = await sup.send(id, cmd.msg);
          break;
        case 'control':
          result = await sup.control(id, cmd.action, cmd.payload);
          break;
        case 'start':
          result = await sup.start(id);
          break;
        case 'stop':
          result = await sup.stop(id);
          break;
        case 'restart':
          result = await sup.restart(id);
          break;
        case 'logout':
          result = await sup.logout(id);
          break;
        default:
          throw new SbError('SB_ERR_VALIDATION', `unknown cluster command ${(cmd as { op: string }).op}`);
      }
      return { ok: true, result: result ?? null };
    } catch (err) {
      return errorReply(err);
    }
  }
}
