// Active liveness probe for a WhatsApp socket: a cheap IQ round trip (`w:p` ping) that must come back in time.

/** The ping WhatsApp Web itself sends; the server answers with an empty `result`. */
export const PING = {
  tag: 'iq',
  attrs: { to: 's.whatsapp.net', type: 'get', xmlns: 'w:p' },
  content: [{ tag: 'ping', attrs: {} }],
};

export interface ProbeOptions {
  /**
   * The health interval in ms (HEALTH_CHECK_INTERVAL_MS, default 30 000). A probe goes out every half interval
   * and must be answered within half an interval, so a socket that stays open but answers nothing is found dead
   * at most one interval after its last answer (Baileys' own keep-alive takes up to ~40 s at its defaults).
   */
  intervalMs: number;
  /** Sends the ping and resolves with the answer (Baileys' `query`; it rejects on its own timeout or a close). */
  query(node: typeof PING, timeoutMs: number): Promise<unknown>;
  /** Called once when a probe fails; `sinceAnswerMs` is the time since the last answered probe (or the start). */
  onDead(reason: string, sinceAnswerMs: number): Promise<void>;
  now?: () => number;
}

/**
 * One probe per open socket. A ping that is not answered within the timeout, or that fails, ends the probe and
 * reports the socket dead. Before a timeout counts, the probe lets pending I/O run once (`setImmediate`): an answer
 * that arrived while the event loop was busy (e.g. generating prekeys) is not mistaken for silence.
 */
export class SessionProbe {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private stopped = false;
  private lastAnswer: number;
  private readonly now: () => number;

  constructor(private readonly opts: ProbeOptions) {
    this.now = opts.now ?? Date.now;
    this.lastAnswer = this.now();
  }

  /** Half the interval: both the period and the answer timeout. */
  get stepMs(): number {
    return Math.max(1, Math.floor(this.opts.intervalMs / 2));
  }

  start(): void {
    if (this.opts.intervalMs <= 0 || this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.probeOnce(), this.stepMs);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sends one ping; resolves true when answered in time, false when the socket was reported dead. */
  async probeOnce(): Promise<boolean> {
    if (this.busy || this.stopped) return true;
    this.busy = true;
    try {
      const failure = await this.ping();
      if (this.stopped) return true;
      if (!failure) {
        this.lastAnswer = this.now();
        return true;
      }
      const since = this.now() - this.lastAnswer;
      this.stop();
      await this.opts.onDead(failure, since);
      return false;
    } finally {
      this.busy = false;
    }
  }

  /** Null when answered; else why not. */
  private ping(): Promise<string | null> {
    const timeoutMs = this.stepMs;
    let settled: string | null | undefined;
    return new Promise((resolve) => {
      const done = (v: string | null) => {
        if (settled !== undefined) return;
        settled = v;
        clearTimeout(timer);
        resolve(v);
      };
      // Baileys gets a longer timeout than ours: ours decides, after letting pending I/O in once.
      this.opts.query(PING, timeoutMs * 2).then(
        () => done(null),
        (err: unknown) => done(`ping failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      const timer = setTimeout(() => {
        setImmediate(() => done(`no answer to a ping within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
    });
  }
}
