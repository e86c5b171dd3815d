// The cluster ports: session leases (one owner replica per instance) and forwarding commands to that owner.
import type { OutboundMessage } from './provider.js';

/** Session ownership through lease rows with an expiry (no advisory locks: works behind a transaction pooler). */
export interface SessionLeases {
  /** This replica's id (the lease owner value). */
  readonly replicaId: string;
  /** Takes the lease, or extends it if this replica already holds it. True when this replica now holds it. */
  acquire(instanceId: string): Promise<boolean>;
  /** Gives the lease up (only if held by this replica). */
  release(instanceId: string): Promise<void>;
  /** The replica holding a live (unexpired) lease, or null. */
  owner(instanceId: string): Promise<string | null>;
}

/** A session command to run on the replica that owns the instance's session. */
export type ClusterCommand =
  | { op: 'send'; instance_id: string; msg: OutboundMessage }
  | { op: 'control'; instance_id: string; action: string; payload: Record<string, unknown> }
  | { op: 'start' | 'stop' | 'restart' | 'logout'; instance_id: string };

/** Routes a session command to the owning replica and waits for its answer. */
export interface CommandForwarder {
  /**
   * `handled: false` when this replica should run the command itself (no other live owner, or already forwarded);
   * otherwise the owner's result. Throws SbError (the owner's error, or SB_ERR_UNAVAILABLE on timeout).
   */
  forward(cmd: ClusterCommand): Promise<{ handled: false } | { handled: true; result: unknown }>;
}
