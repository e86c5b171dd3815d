// Our recent sends: their echoes are not stored twice, retry requests are answered, early acks wait for the send.
import type { proto } from 'baileys';
import type { MessageStatus } from '../../domain/statuses.js';
import type { SessionContext } from '../../ports/provider.js';
import { errText } from './baileys-logger.js';

/** How long after a send returns its acks are held back (the core stores the message id meanwhile), ms. */
const ACK_GRACE_MS = 250;
/** How many recent sends are remembered for echoes and retry requests. */
const MAX_REMEMBERED = 1000;

/** Recent sends of one session and the ack gates of sends in flight. */
export class SentLedger {
  /** Ids of messages we sent: their echo in messages.upsert is not stored twice. */
  private readonly sent = new Map<string, proto.IMessage>();
  /** Sends in flight (plus a short grace): acks for them wait until the core knows the message id. */
  private readonly gates = new Map<string, Promise<void>>();

  constructor(private readonly ctx: SessionContext) {}

  /** True when `id` is one of our recent sends. */
  has(id: string): boolean {
    return this.sent.has(id);
  }

  /** Our recent send's content, for a retry request (undefined when unknown or not yet known). */
  content(id: string): proto.IMessage | undefined {
    const recent = this.sent.get(id);
    return recent && Object.keys(recent).length > 0 ? recent : undefined;
  }

  remember(id: string, message: proto.IMessage): void {
    this.sent.set(id, message);
    if (this.sent.size > MAX_REMEMBERED) {
      const oldest = this.sent.keys().next().value;
      if (oldest !== undefined) this.sent.delete(oldest);
    }
  }

  forget(id: string): void {
    this.sent.delete(id);
  }

  /**
   * Opens the ack gate of a send about to go out; the returned `release` lets its acks through ACK_GRACE_MS
   * later (call it once the send returned or failed).
   */
  hold(id: string): () => void {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.gates.set(id, gate);
    return () => {
      const t = setTimeout(() => {
        this.gates.delete(id);
        open();
      }, ACK_GRACE_MS);
      t.unref?.();
    };
  }

  /**
   * Reports an ack. An ack for a send still in flight (or just returned, before the core has stored the message
   * id) waits for it, so an early receipt is not lost.
   */
  async emitAck(messageId: string, status: MessageStatus): Promise<void> {
    const gate = this.gates.get(messageId);
    if (!gate) return this.ctx.emit({ type: 'ack', message_id: messageId, status });
    void gate
      .then(() => this.ctx.emit({ type: 'ack', message_id: messageId, status }))
      .catch((err) =>
        this.ctx.logger.warn({ err: errText(err), message_id: messageId }, 'ack handling failed'),
      );
  }
}
