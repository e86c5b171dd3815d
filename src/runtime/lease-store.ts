// This replica's view of the session leases: binds its replica id and lease TTL to the store's lease repository.
import type { LeaseRow, ReplicaRow, SessionLeases } from '../ports/leases.js';
import type { Store } from '../ports/store.js';

export type { LeaseRow, ReplicaRow } from '../ports/leases.js';

/**
 * Leases held by one replica (see `LeaseRepo`: single statements, the database's clock). A lease is taken when
 * absent, expired or already ours, and lasts `ttlMs` from each acquire or renewal.
 */
export class StoreLeases implements SessionLeases {
  constructor(
    private readonly store: Pick<Store, 'leases'>,
    readonly replicaId: string,
    private readonly ttlMs: number,
  ) {}

  acquire(instanceId: string): Promise<boolean> {
    return this.store.leases.acquire(instanceId, this.replicaId, this.ttlMs);
  }

  release(instanceId: string): Promise<void> {
    return this.store.leases.release(instanceId, this.replicaId);
  }

  owner(instanceId: string): Promise<string | null> {
    return this.store.leases.owner(instanceId);
  }

  /** Extends this replica's leases on `ids`; returns the ids still held (a missing id was lost). */
  renew(ids: readonly string[]): Promise<Set<string>> {
    return this.store.leases.renew(this.replicaId, ids, this.ttlMs);
  }

  /** Records that this replica is alive and how many sessions it runs. */
  heartbeat(sessions: number): Promise<void> {
    return this.store.leases.heartbeat(this.replicaId, sessions);
  }

  /**
   * Drops every lease and replica row not held by this replica. Only for a process that knows it is alone on the
   * database (embedded PGlite behind the DATA_DIR lock): whatever else is there was left by a crashed process.
   */
  clearOthers(): Promise<void> {
    return this.store.leases.clearOthers(this.replicaId);
  }

  /** Removes this replica from the live list (graceful shutdown). */
  leave(): Promise<void> {
    return this.store.leases.leave(this.replicaId);
  }

  /** Forgets replicas silent for an hour (their ids are random per process by default). */
  prune(): Promise<void> {
    return this.store.leases.prune();
  }

  /**
   * Replicas with a recent heartbeat: younger than `withinMs` (default the lease TTL). The claimer passes a
   * shorter window (a few renewals) so a dead replica stops counting before its leases expire.
   */
  liveReplicas(withinMs = this.ttlMs): Promise<ReplicaRow[]> {
    return this.store.leases.liveReplicas(withinMs);
  }

  /** How many instances should run (desired_state = running). */
  desiredCount(): Promise<number> {
    return this.store.leases.desiredCount();
  }

  /**
   * Instances that should run and have no live owner, in random order (so replicas spread their claims).
   * An instance whose start failed recently (status error, changed in the last `errorBackoffMs`) is left alone.
   */
  unowned(limit: number, errorBackoffMs: number): Promise<string[]> {
    return this.store.leases.unowned(limit, errorBackoffMs);
  }

  /** Live leases as (instance, owner) pairs, for the cluster view. */
  list(): Promise<LeaseRow[]> {
    return this.store.leases.list();
  }
}
