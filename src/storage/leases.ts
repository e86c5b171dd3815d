// SQL for session leases (`session_leases`) and replica heartbeats (`cluster_replicas`): one statement per call.
import type { LeaseRepo, LeaseRow, ReplicaRow } from '../ports/leases.js';
import type { SqlRunner } from '../ports/store.js';

/**
 * A lease is taken when absent or expired (or already ours) in ONE statement: `INSERT … ON CONFLICT DO UPDATE …
 * WHERE owner = me OR expires_at < now()`; PostgreSQL's row lock makes concurrent takers see each other's row.
 * Time is the database's `now()`.
 */
export function createLeaseRepo(sql: SqlRunner, qschema: string): LeaseRepo {
  const t = `${qschema}.session_leases`;
  const replicas = `${qschema}.cluster_replicas`;
  return {
    async acquire(instanceId, owner, ttlMs) {
      const rows = await sql.query(
        `INSERT INTO ${t} AS l (instance_id, owner, expires_at)
           VALUES ($1::uuid, $2, now() + make_interval(secs => $3::double precision / 1000))
         ON CONFLICT (instance_id) DO UPDATE
           SET owner = EXCLUDED.owner,
               expires_at = EXCLUDED.expires_at,
               epoch = CASE WHEN l.owner = EXCLUDED.owner THEN l.epoch ELSE l.epoch + 1 END,
               acquired_at = CASE WHEN l.owner = EXCLUDED.owner THEN l.acquired_at ELSE now() END
           WHERE l.owner = EXCLUDED.owner OR l.expires_at < now()
         RETURNING owner`,
        [instanceId, owner, ttlMs],
      );
      return rows.length === 1;
    },

    async release(instanceId, owner) {
      await sql.query(`DELETE FROM ${t} WHERE instance_id = $1::uuid AND owner = $2`, [instanceId, owner]);
    },

    async owner(instanceId) {
      const rows = await sql.query<{ owner: string }>(
        `SELECT owner FROM ${t} WHERE instance_id = $1::uuid AND expires_at > now()`,
        [instanceId],
      );
      return rows[0]?.owner ?? null;
    },

    async renew(owner, ids, ttlMs) {
      if (ids.length === 0) return new Set();
      const rows = await sql.query<{ id: string }>(
        `UPDATE ${t} SET expires_at = now() + make_interval(secs => $3::double precision / 1000)
          WHERE owner = $1 AND instance_id = ANY($2::uuid[]) AND expires_at > now()
          RETURNING instance_id::text AS id`,
        [owner, ids, ttlMs],
      );
      return new Set(rows.map((r) => r.id));
    },

    async heartbeat(id, sessions) {
      await sql.query(
        `INSERT INTO ${replicas} (id, heartbeat_at, sessions) VALUES ($1, now(), $2)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), sessions = EXCLUDED.sessions`,
        [id, sessions],
      );
    },

    async clearOthers(id) {
      await sql.query(`DELETE FROM ${t} WHERE owner <> $1`, [id]);
      await sql.query(`DELETE FROM ${replicas} WHERE id <> $1`, [id]);
    },

    async leave(id) {
      await sql.query(`DELETE FROM ${replicas} WHERE id = $1`, [id]);
    },

    async prune() {
      await sql.query(`DELETE FROM ${replicas} WHERE heartbeat_at < now() - interval '1 hour'`);
    },

    async liveReplicas(withinMs): Promise<ReplicaRow[]> {
      const rows = await sql.query(
        `SELECT id, started_at, heartbeat_at, sessions FROM ${replicas}
          WHERE heartbeat_at > now() - make_interval(secs => $1::double precision / 1000) ORDER BY id`,
        [withinMs],
      );
      return rows.map((r) => ({
        id: r.id,
        started_at: new Date(r.started_at).toISOString(),
        heartbeat_at: new Date(r.heartbeat_at).toISOString(),
        sessions: Number(r.sessions),
      }));
    },

    async desiredCount() {
      const rows = await sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${qschema}.instances WHERE desired_state = 'running'`,
      );
      return Number(rows[0]?.n ?? 0);
    },

    async unowned(limit, errorBackoffMs) {
      const rows = await sql.query<{ id: string }>(
        `SELECT i.id::text AS id FROM ${qschema}.instances i
           LEFT JOIN ${t} l ON l.instance_id = i.id AND l.expires_at > now()
          WHERE i.desired_state = 'running' AND l.instance_id IS NULL
            AND (i.status <> 'error' OR i.updated_at < now() - make_interval(secs => $2::double precision / 1000))
          ORDER BY random() LIMIT $1`,
        [limit, errorBackoffMs],
      );
      return rows.map((r) => r.id);
    },

    async list(): Promise<LeaseRow[]> {
      const rows = await sql.query(
        `SELECT instance_id::text AS instance_id, owner, epoch, expires_at FROM ${t}
          WHERE expires_at > now() ORDER BY instance_id`,
      );
      return rows.map((r) => ({
        instance_id: r.instance_id,
        owner: r.owner,
        epoch: Number(r.epoch),
        expires_at: new Date(r.expires_at).toISOString(),
      }));
    },
  };
}
