// Session leases and replica heartbeats in SQL: single statements only, safe behind a transaction-mode pooler.
import type { SessionLeases } from '../ports/leases.js';
import type { Store } from '../ports/store.js';

/** A live replica as seen in `cluster_replicas`. */
export interface ReplicaRow {
  id: string;
  started_at: string;
  heartbeat_at: string;
  sessions: number;
}

/**
 * Leases over `session_leases`. Time is the database's `now()`, so replicas never compare their own clocks.
 * A lease is taken when absent or expired (or already ours) in ONE statement: `INSERT … ON CONFLICT DO UPDATE …
 * WHERE owner = me OR expires_at < now()`; PostgreSQL's row lock makes concurrent takers see each other's row.
 */
export class SqlLeases implements SessionLeases {
  constructor(
    private readonly store: Store,
    readonly replicaId: string,
    private readonly ttlMs: number,
  ) {}

  private get t(): string {
    return `${this.store.qschema}.session_leases`;
  }

  async acquire(instanceId: string): Promise<boolean> {
    const rows = await this.store.sql.query(
      `INSERT INTO ${this.t} AS l (instance_id, owner, expires_at)
         VALUES ($1::uuid, $2, now() + make_interval(secs => $3::double precision / 1000))
       ON CONFLICT (instance_id) DO UPDATE
         SET owner = EXCLUDED.owner,
             expires_at = EXCLUDED.expires_at,
             epoch = CASE WHEN l.owner = EXCLUDED.owner THEN l.epoch ELSE l.epoch + 1 END,
             acquired_at = CASE WHEN l.owner = EXCLUDED.owner THEN l.acquired_at ELSE now() END
         WHERE l.owner = EXCLUDED.owner OR l.expires_at < now()
       RETURNING owner`,
      [instanceId, this.replicaId, this.ttlMs],
    );
    return rows.length === 1;
  }

  async release(instanceId: string): Promise<void> {
    await this.store.sql.query(`DELETE FROM ${this.t} WHERE instance_id = $1::uuid AND owner = $2`, [
      instanceId,
      this.replicaId,
    ]);
  }

  async owner(instanceId: string): Promise<string | null> {
    const rows = await this.store.sql.query<{ owner: string }>(
      `SELECT owner FROM ${this.t} WHERE instance_id = $1::uuid AND expires_at > now()`,
      [instanceId],
    );
    return rows[0]?.owner ?? null;
  }

  /** Extends this replica's leases on `ids`; returns the ids still held (a missing id was lost). */
  async renew(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.store.sql.query<{ id: string }>(
      `UPDATE ${this.t} SET expires_at = now() + make_interval(secs => $3::double precision / 1000)
        WHERE owner = $1 AND instance_id = ANY($2::uuid[]) AND expires_at > now()
        RETURNING instance_id::text AS id`,
      [this.replicaId, ids, this.ttlMs],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Records that this replica is alive and how many sessions it runs. */
  async heartbeat(sessions: number): Promise<void> {
    await this.store.sql.query(
      `INSERT INTO ${this.store.qschema}.cluster_replicas (id, heartbeat_at, sessions) VALUES ($1, now(), $2)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), sessions = EXCLUDED.sessions`,
      [this.replicaId, sessions],
    );
  }

  /**
   * Drops every lease and replica row not held by this replica. Only for a process that knows it is alone on the
   * database (embedded PGlite behind the DATA_DIR lock): whatever else is there was left by a crashed process.
   */
  async clearOthers(): Promise<void> {
    await this.store.sql.query(`DELETE FROM ${this.t} WHERE owner <> $1`, [this.replicaId]);
    await this.store.sql.query(`DELETE FROM ${this.store.qschema}.cluster_replicas WHERE id <> $1`, [
      this.replicaId,
    ]);
  }

  /** Removes this replica from the live list (graceful shutdown). */
  async leave(): Promise<void> {
    await this.store.sql.query(`DELETE FROM ${this.store.qschema}.cluster_replicas WHERE id = $1`, [
      this.replicaId,
    ]);
  }

  /** Forgets replicas silent for an hour (their ids are random per process by default). */
  async prune(): Promise<void> {
    await this.store.sql.query(
      `DELETE FROM ${this.store.qschema}.cluster_replicas WHERE heartbeat_at < now() - interval '1 hour'`,
    );
  }

  /**
   * Replicas with a recent heartbeat: younger than `withinMs` (default the lease TTL). The claimer passes a
   * shorter window (a few renewals) so a dead replica stops counting before its leases expire.
   */
  async liveReplicas(withinMs = this.ttlMs): Promise<ReplicaRow[]> {
    const rows = await this.store.sql.query(
      `SELECT id, started_at, heartbeat_at, sessions FROM ${this.store.qschema}.cluster_replicas
        WHERE heartbeat_at > now() - make_interval(secs => $1::double precision / 1000) ORDER BY id`,
      [withinMs],
    );
    return rows.map((r) => ({
      id: r.id,
      started_at: new Date(r.started_at).toISOString(),
      heartbeat_at: new Date(r.heartbeat_at).toISOString(),
      sessions: Number(r.sessions),
    }));
  }

  /** How many instances should run (desired_state = running). */
  async desiredCount(): Promise<number> {
    const rows = await this.store.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.store.qschema}.instances WHERE desired_state = 'running'`,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Instances that should run and have no live owner, in random order (so replicas spread their claims).
   * An instance whose start failed recently (status error, changed in the last `errorBackoffMs`) is left alone.
   */
  async unowned(limit: number, errorBackoffMs: number): Promise<string[]> {
    const s = this.store.qschema;
    const rows = await this.store.sql.query<{ id: string }>(
      `SELECT i.id::text AS id FROM ${s}.instances i
         LEFT JOIN ${s}.session_leases l ON l.instance_id = i.id AND l.expires_at > now()
        WHERE i.desired_state = 'running' AND l.instance_id IS NULL
          AND (i.status <> 'error' OR i.updated_at < now() - make_interval(secs => $2::double precision / 1000))
        ORDER BY random() LIMIT $1`,
      [limit, errorBackoffMs],
    );
    return rows.map((r) => r.id);
  }

  /** Live leases as (instance, owner) pairs, for the cluster view. */
  async list(): Promise<Array<{ instance_id: string; owner: string; epoch: number; expires_at: string }>> {
    const rows = await this.store.sql.query(
      `SELECT instance_id::text AS instance_id, owner, epoch, expires_at FROM ${this.t}
        WHERE expires_at > now() ORDER BY instance_id`,
    );
    return rows.map((r) => ({
      instance_id: r.instance_id,
      owner: r.owner,
      epoch: Number(r.epoch),
      expires_at: new Date(r.expires_at).toISOString(),
    }));
  }
}
