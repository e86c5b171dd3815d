// The simulator's fake messenger network: knobs for latency and failures, and a log of connections.
import { randomBytes } from 'node:crypto';

export interface SimulatorKnobs {
  /** Delay before each simulated network step, in ms (default 0). */
  latencyMs: number;
  /** Probability 0..1 that a send fails (default 0). */
  failureRate: number;
  /** QR rotation interval in ms (default 20 000). */
  qrRotateMs: number;
  /** Delay between sent → delivered → read acks in ms (default 200). */
  ackDelayMs: number;
  /**
   * Message ids come from the "server" (as with Telegram, WAHA) instead of being chosen before the send (as with
   * WhatsApp); default false. Read when a session starts and at each send: set it before starting sessions.
   */
  serverIds: boolean;
  /** Both acks are reported (and persisted) before `send` returns: acks that overtake their send (default false). */
  acksFirst: boolean;
}

/** Shared by all simulator sessions of a process; tests and benchmarks read its connection log. */
export class SimulatorNetwork {
  readonly knobs: SimulatorKnobs;
  /** Live connections per instance id (the failover test checks it never exceeds 1). */
  readonly live = new Map<string, number>();
  maxConcurrent = 0;
  /** Connection log (wall-clock ms), newest last, at most 10 000 entries: the failover test checks overlaps. */
  readonly log: Array<{ instance_id: string; event: 'connect' | 'disconnect'; at: number }> = [];

  constructor(knobs: Partial<SimulatorKnobs> = {}) {
    this.knobs = {
      latencyMs: 0,
      failureRate: 0,
      qrRotateMs: 20_000,
      ackDelayMs: 200,
      serverIds: false,
      acksFirst: false,
      ...knobs,
    };
  }

  connect(instanceId: string): void {
    const n = (this.live.get(instanceId) ?? 0) + 1;
    this.live.set(instanceId, n);
    this.maxConcurrent = Math.max(this.maxConcurrent, n);
    this.record(instanceId, 'connect');
  }

  private record(instanceId: string, event: 'connect' | 'disconnect'): void {
    this.log.push({ instance_id: instanceId, event, at: Date.now() });
    if (this.log.length > 10_000) this.log.splice(0, this.log.length - 10_000);
  }

  disconnect(instanceId: string): void {
    const n = (this.live.get(instanceId) ?? 1) - 1;
    this.record(instanceId, 'disconnect');
    if (n <= 0) this.live.delete(instanceId);
    else this.live.set(instanceId, n);
  }

  delay(): Promise<void> {
    const ms = this.knobs.latencyMs;
    return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
  }

  /** A fresh simulated message id. */
  static messageId(): string {
    return `SIM${randomBytes(10).toString('hex').toUpperCase()}`;
  }

  /** A fake phone number for a scanned account: +1 555 01xx xxxx style, valid E.164 digits. */
  static fakePhone(): string {
    return `1555${String(randomBytes(4).readUInt32BE(0) % 10_000_000).padStart(7, '0')}`;
  }
}
