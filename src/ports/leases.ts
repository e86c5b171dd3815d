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

/** A live replica as seen in the replica list. */
export interface ReplicaRow {
  id: string;
  started_at: string;
  heartbeat_at: string;
  sessions: number;
}

/** A live lease, for the cluster view. */
export interface LeaseRow {
  instance_id: string;
  owner: string;
  epoch: number;
  expires_at: string;
}

/**
 * Lease rows and replica heartbeats in the system of record. Every method is ONE statement (safe behind a
 * transaction-mode pooler) and uses the database's clock, so replicas never compare their own clocks.
 */
export interface LeaseRepo {
  /**
   * Takes the lease for `owner` when absent, expired or already its own (then extends it to now + ttlMs).
   * A change of owner bumps the epoch. True when `owner` now holds it.
   */
  acquire(instanceId: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Deletes the lease if `owner` holds it. */
  release(instanceId: string, owner: string): Promise<void>;
  /** The owner of a live (unexpired) lease, or null. */
  owner(instanceId: string): Promise<string | null>;
  /** Extends `owner`'s live leases among `ids` to now + ttlMs; returns the ids still held. */
  renew(owner: string, ids: readonly string[], ttlMs: number): Promise<Set<string>>;
  /** Records that replica `id` is alive and runs `sessions` sessions. */
  heartbeat(id: string, sessions: number): Promise<void>;
  /** Deletes every lease and replica row not belonging to `id`. */
  clearOthers(id: string): Promise<void>;
  /** Removes replica `id` from the replica list. */
  leave(id: string): Promise<void>;
  /** Forgets replicas without a heartbeat for an hour. */
  prune(): Promise<void>;
  /** Replicas whose last heartbeat is younger than `withinMs`, by id. */
  liveReplicas(withinMs: number): Promise<ReplicaRow[]>;
  /** How many instances should run (desired_state = running). */
  desiredCount(): Promise<number>;
  /**
   * Up to `limit` instances that should run and have no live lease, in random order; an instance in status error
   * that changed within the last `errorBackoffMs` is left out.
   */
  unowned(limit: number, errorBackoffMs: number): Promise<string[]>;
  /** Live leases, by instance id. */
  list(): Promise<LeaseRow[]>;
}
