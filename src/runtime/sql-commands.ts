// Command forwarding without Redis: a `cluster_commands` table the owner polls and the caller reads back.
import type { ClusterCommand } from '../ports/leases.js';
import type { Store } from '../ports/store.js';
import {
  type CommandHandler,
  type CommandReply,
  type CommandTransport,
  errorReply,
  ownerGone,
} from './command-transport.js';

const BATCH = 16;

/**
 * Pooler-safe (plain statements, `FOR UPDATE SKIP LOCKED` inside one statement). A caller that times out marks
 * its still-pending row `expired`, so a late owner never runs a command whose caller already gave up.
 */
export class SqlCommandTransport implements CommandTransport {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private polling: Promise<void> | null = null;
  private lastCleanup = 0;

  constructor(
    private readonly store: Store,
    private readonly replicaId: string,
    private readonly pollMs: number,
    private readonly onError: (err: unknown, what: string) => void,
  ) {}

  private get t(): string {
    return `${this.store.qschema}.cluster_commands`;
  }

  async request(target: string, cmd: ClusterCommand, timeoutMs: number): Promise<CommandReply> {
    const [row] = await this.store.sql.query<{ id: number }>(
      `INSERT INTO ${this.t} (target, instance_id, op, payload) VALUES ($1, $2::uuid, $3, $4) RETURNING id`,
      [target, cmd.instance_id, cmd.op, JSON.stringify(cmd)],
    );
    const id = Number(row.id);
    const deadline = Date.now() + timeoutMs;
    let wait = 10;
    for (;;) {
      const [r] = await this.store.sql.query<{ status: string; result: CommandReply | null }>(
        `SELECT status, result FROM ${this.t} WHERE id = $1`,
        [id],
      );
      if (r && (r.status === 'done' || r.status === 'failed') && r.result) return r.result;
      if (Date.now() >= deadline) {
        const expired = await this.store.sql.query(
          `UPDATE ${this.t} SET status = 'expired', done_at = now() WHERE id = $1 AND status = 'pending' RETURNING id`,
          [id],
        );
        throw ownerGone(
          target,
          cmd.instance_id,
          expired.length ? `no answer within ${timeoutMs} ms` : `still running after ${timeoutMs} ms`,
        );
      }
      await new Promise((res) => setTimeout(res, wait));
      wait = Math.min(wait * 2, 100);
    }
  }

  async serve(handler: CommandHandler): Promise<void> {
    const loop = async () => {
      if (this.stopped) return;
      this.polling = this.pollOnce(handler).catch((err) => this.onError(err, 'command poll failed'));
      await this.polling;
      this.polling = null;
      if (this.stopped) return;
      this.timer = setTimeout(() => void loop(), this.pollMs);
      this.timer.unref();
    };
    void loop();
  }

  private async pollOnce(handler: CommandHandler): Promise<void> {
    const rows = await this.store.sql.query<{ id: number; payload: ClusterCommand }>(
      `UPDATE ${this.t} SET status = 'running'
        WHERE id IN (SELECT id FROM ${this.t} WHERE target = $1 AND status = 'pending'
                      ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING id, payload`,
      [this.replicaId],
    );
    await Promise.all(
      rows.map(async (r) => {
        let reply: CommandReply;
        try {
          reply = await handler(r.payload);
        } catch (err) {
          reply = errorReply(err);
        }
        await this.store.sql.query(
          `UPDATE ${this.t} SET status = $2, result = $3, done_at = now() WHERE id = $1`,
          [Number(r.id), reply.ok ? 'done' : 'failed', JSON.stringify(reply)],
        );
      }),
    );
    if (Date.now() - this.lastCleanup > 60_000) {
      this.lastCleanup = Date.now();
      await this.store.sql.query(
        `DELETE FROM ${this.t} WHERE done_at < now() - interval '5 minutes' OR created_at < now() - interval '1 hour'`,
      );
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }
}
