// Decrypt failures: a message Baileys could not decrypt waits for the sender's re-send, else it is reported.
import { proto, type WAMessage } from 'baileys';
import type { ProviderEvent, ProviderLogger } from '../../ports/provider.js';
import { bareJid, phoneOf } from './mapper.js';

type DecryptFailed = Extract<ProviderEvent, { type: 'decrypt_failed' }>;

interface Pending {
  timer: NodeJS.Timeout;
  attempts: number;
  failure: Omit<DecryptFailed, 'type' | 'attempts'>;
}

export interface DecryptWatchDeps {
  /**
   * How long a failed message may wait for the sender's re-send (Baileys answers each failure with a retry
   * receipt) before it is reported (WHATSAPP_DECRYPT_RETRY_MS, default 15 000 ms; 0 = report at once).
   */
  retryWindowMs: number;
  report(e: DecryptFailed): Promise<void>;
  logger: ProviderLogger;
}

/**
 * Baileys surfaces a message it cannot decrypt as a `CIPHERTEXT` stub (no content) and asks the sender to encrypt
 * it again. The stub is never stored as a message (its id would then block the real content); instead it waits
 * here. A decrypted message with the same id clears it; when the window passes first, one `decrypt_failed` fact
 * (message id, chat, sender, Baileys' error, attempts) is reported, so nothing goes missing silently. A re-send that
 * succeeds even later is still stored as a normal message.
 */
export class DecryptWatch {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly deps: DecryptWatchDeps) {}

  /** True when `m` is Baileys' stub for a message it could not decrypt. */
  static isFailure(m: WAMessage): boolean {
    return m.messageStubType === proto.WebMessageInfo.StubType.CIPHERTEXT && !m.message;
  }

  /** Records one failed attempt for the stub's message id. */
  failed(m: WAMessage): void {
    const id = m.key.id;
    const remote = m.key.remoteJid;
    if (!id || !remote || remote === 'status@broadcast') return;
    const known = this.pending.get(id);
    if (known) {
      known.attempts++;
      return;
    }
    const alt = m.key.remoteJidAlt;
    const chat = remote.endsWith('@g.us') ? remote : bareJid(alt && phoneOf(alt) ? alt : remote);
    const sender = m.key.participant ?? null;
    const ts = Number(m.messageTimestamp ?? 0);
    const failure = {
      message_id: id,
      chat_id: chat,
      from: m.key.fromMe ? null : sender ? bareJid(m.key.participantAlt ?? sender) : chat,
      error: String(m.messageStubParameters?.[0] ?? 'could not decrypt').slice(0, 200),
      timestamp: (ts > 0 ? new Date(ts * 1000) : new Date()).toISOString(),
    };
    const timer = setTimeout(() => void this.flush(id), this.deps.retryWindowMs);
    timer.unref?.();
    this.pending.set(id, { timer, attempts: 1, failure });
  }

  /** A message with this id was decrypted after all. */
  resolved(id: string | null | undefined): void {
    const p = id ? this.pending.get(id) : undefined;
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id!);
  }

  /** Reports every failure still waiting (the session is stopping) and clears the timers. */
  async flushAll(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((id) => this.flush(id)));
  }

  private async flush(id: string): Promise<void> {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
    try {
      await this.deps.report({ type: 'decrypt_failed', ...p.failure, attempts: p.attempts });
    } catch (err) {
      this.deps.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'decrypt failure report failed',
      );
    }
  }
}
