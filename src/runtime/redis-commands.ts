// Command forwarding over Redis pub/sub: one request channel per replica, answers on the caller's reply channel.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ClusterCommand } from '../ports/leases.js';
import {
  type CommandHandler,
  type CommandReply,
  type CommandTransport,
  errorReply,
  ownerGone,
} from './command-transport.js';

interface Request {
  id: string;
  from: string;
  cmd: ClusterCommand;
}

/** Channels are `<prefix>:cmd:<replica>` and `<prefix>:reply:<replica>`; the prefix names the deployment. */
export class RedisCommandTransport implements CommandTransport {
  private readonly pending = new Map<string, { resolve: (r: CommandReply) => void; timer: NodeJS.Timeout }>();
  private handler: CommandHandler | null = null;

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly prefix: string,
    private readonly replicaId: string,
    private readonly onError: (err: unknown, what: string) => void,
  ) {}

  private cmdChannel(replica: string): string {
    return `${this.prefix}:cmd:${replica}`;
  }

  private replyChannel(replica: string): string {
    return `${this.prefix}:reply:${replica}`;
  }

  async serve(handler: CommandHandler): Promise<void> {
    this.handler = handler;
    const mine = this.cmdChannel(this.replicaId);
    const replies = this.replyChannel(this.replicaId);
    this.sub.on('message', (channel: string, text: string) => {
      if (channel === mine) void this.onRequest(text);
      else if (channel === replies) this.onReply(text);
    });
    await this.sub.subscribe(mine, replies);
  }

  private async onRequest(text: string): Promise<void> {
    let req: Request;
    try {
      req = JSON.parse(text) as Request;
    } catch (err) {
      this.onError(err, 'bad command');
      return;
    }
    let reply: CommandReply;
    try {
      reply = await this.handler!(req.cmd);
    } catch (err) {
      reply = errorReply(err);
    }
    await this.pub
      .publish(this.replyChannel(req.from), JSON.stringify({ id: req.id, reply }))
      .catch((err) => this.onError(err, 'command reply failed'));
  }

  private onReply(text: string): void {
    try {
      const { id, reply } = JSON.parse(text) as { id: string; reply: CommandReply };
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(reply);
    } catch (err) {
      this.onError(err, 'bad command reply');
    }
  }

  async request(target: string, cmd: ClusterCommand, timeoutMs: number): Promise<CommandReply> {
    const id = randomUUID();
    const answer = new Promise<CommandReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(ownerGone(target, cmd.instance_id, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
    });
    const req: Request = { id, from: this.replicaId, cmd };
    const receivers = await this.pub.publish(this.cmdChannel(target), JSON.stringify(req)).catch((err) => {
      this.onError(err, 'command publish failed');
      return 0;
    });
    if (receivers === 0) {
      const p = this.pending.get(id);
      if (p) {
        clearTimeout(p.timer);
        this.pending.delete(id);
      }
      throw ownerGone(target, cmd.instance_id, 'it is not connected to Redis');
    }
    return answer;
  }

  async close(): Promise<void> {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve({
        ok: false,
        error: { code: 'SB_ERR_UNAVAILABLE', message: 'gateway is shutting down', details: null },
      });
      this.pending.delete(id);
    }
  }
}
