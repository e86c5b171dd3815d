// Command forwarding without Redis: a command queue in the database that the owner polls and the caller reads back.
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
    private readonly store: Pick<Store, 'clusterCommands'>,
    private readonly replicaId: string,
    private readonly pollMs: number,
    private readonly onError: (err: unknown, what: string) => void,
  ) {}

  async request(target: string, cmd: ClusterCommand, timeoutMs: number): Promise<CommandReply> {
    const commands = this.store.clusterCommands;
    const id = await commands.enqueue(target, cmd);
    const deadline = Date.now() + timeoutMs;
    let wait = 10;
    for (;;) {
      const r = await commands.state(id);
      if (r && (r.status === 'done' || r.status === 'failed') && r.result) return r.result as CommandReply;
      if (Date.now() >= deadline) {
        const expired = await commands.expire(id);
        throw ownerGone(
          target,
          cmd.instance_id,
          expired ? `no answer within ${timeoutMs} ms` : `still running after ${timeoutMs} ms`,
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
    const commands = this.store.clusterCommands;
    const claimed = await commands.claim(this.replicaId, BATCH);
    await Promise.all(
      claimed.map(async ({ id, cmd }) => {
        let reply: CommandReply;
        try {
          reply = await handler(cmd);
        } catch (err) {
          reply = errorReply(err);
        }
        await commands.finish(id, reply.ok, reply);
      }),
    );
    if (Date.now() - this.lastCleanup > 60_000) {
      this.lastCleanup = Date.now();
      await commands.cleanup();
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }
}
