// SQL for the `cluster_commands` queue: the owner replica claims its pending rows, the caller reads the reply back.
import type { ClusterCommandRepo, QueuedCommandState } from '../ports/cluster-commands.js';
import type { ClusterCommand } from '../ports/leases.js';
import type { SqlRunner } from '../ports/store.js';

/** Plain single statements (`FOR UPDATE SKIP LOCKED` inside one statement): pooler-safe. */
export function createClusterCommandRepo(sql: SqlRunner, qschema: string): ClusterCommandRepo {
  const t = `${qschema}.cluster_commands`;
  return {
    async enqueue(target, cmd) {
      const [row] = await sql.query<{ id: number | string }>(
        `INSERT INTO ${t} (target, instance_id, op, payload) VALUES ($1, $2::uuid, $3, $4) RETURNING id`,
        [target, cmd.instance_id, cmd.op, JSON.stringify(cmd)],
      );
      return Number(row.id);
    },

    async state(id): Promise<QueuedCommandState | null> {
      const [r] = await sql.query<QueuedCommandState>(`SELECT status, result FROM ${t} WHERE id = $1`, [id]);
      return r ? { status: r.status, result: r.result ?? null } : null;
    },

    async expire(id) {
      const rows = await sql.query(
        `UPDATE ${t} SET status = 'expired', done_at = now() WHERE id = $1 AND status = 'pending' RETURNING id`,
        [id],
      );
      return rows.length > 0;
    },

    async claim(target, limit) {
      const rows = await sql.query<{ id: number | string; payload: ClusterCommand }>(
        `UPDATE ${t} SET status = 'running'
          WHERE id IN (SELECT id FROM ${t} WHERE target = $1 AND status = 'pending'
                        ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
          RETURNING id, payload`,
        [target, limit],
      );
      return rows.map((r) => ({ id: Number(r.id), cmd: r.payload })).sort((a, b) => a.id - b.id);
    },

    async finish(id, ok, reply) {
      await sql.query(`UPDATE ${t} SET status = $2, result = $3, done_at = now() WHERE id = $1`, [
        id,
        ok ? 'done' : 'failed',
        JSON.stringify(reply),
      ]);
    },

    async cleanup() {
      await sql.query(
        `DELETE FROM ${t} WHERE done_at < now() - interval '5 minutes' OR created_at < now() - interval '1 hour'`,
      );
    },
  };
}
