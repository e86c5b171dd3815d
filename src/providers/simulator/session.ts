// One simulated messenger session: QR that rotates, scan, inbound messages, acks, drops and remote logout.
import { randomBytes } from 'node:crypto';
import { SbError } from '../../domain/errors.js';
import type { OutboundMessage, ProviderSession, SendResult, SessionContext } from '../../ports/provider.js';
import { SimulatorNetwork } from './network.js';

type State = 'idle' | 'qr' | 'ready' | 'closed';

export class SimulatorSession implements ProviderSession {
  private state: State = 'idle';
  private qrTimer: NodeJS.Timeout | null = null;
  private qrCount = 0;
  private account: string | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly ctx: SessionContext,
    private readonly net: SimulatorNetwork,
  ) {}

  async start(): Promise<void> {
    this.net.connect(this.ctx.instanceId);
    this.state = 'idle';
    await this.net.delay();
    const prev = this.ctx.previous;
    const saved = prev.account && !['logged_out', 'failed', 'pending', 'qr_ready'].includes(prev.auth_status);
    if (saved) {
      // Saved credentials: log in again without a QR, like a real messenger session restored from its store.
      await this.login(prev.account!.replace(/@.*$/, ''));
      return;
    }
    await this.rotateQr();
  }

  private async rotateQr(): Promise<void> {
    if (this.state === 'closed' || this.state === 'ready') return;
    this.state = 'qr';
    this.qrCount++;
    const qr = `2@sim${randomBytes(12).toString('base64url')},${this.ctx.instanceId},${this.qrCount}`;
    await this.ctx.emit({ type: 'qr', qr });
    this.clearQrTimer();
    this.qrTimer = setTimeout(() => {
      void this.rotateQr().catch((err) => this.ctx.logger.warn({ err: String(err) }, 'qr rotation failed'));
    }, this.net.knobs.qrRotateMs);
    this.qrTimer.unref();
  }

  private clearQrTimer(): void {
    if (this.qrTimer) clearTimeout(this.qrTimer);
    this.qrTimer = null;
  }

  private async login(phone: string): Promise<void> {
    this.clearQrTimer();
    this.account = `${phone}@s.whatsapp.net`;
    await this.ctx.emit({ type: 'auth', auth_status: 'authenticated', account: this.account });
    await this.net.delay();
    if (this.state === 'closed') return;
    this.state = 'ready';
    await this.ctx.emit({ type: 'auth', auth_status: 'client_ready', account: this.account });
  }

  async stop(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearQrTimer();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.net.disconnect(this.ctx.instanceId);
  }

  async logout(): Promise<void> {
    await this.stop();
  }

  async send(msg: OutboundMessage): Promise<SendResult> {
    if (this.state !== 'ready') throw new Error('simulator session is not connected');
    await this.net.delay();
    if (Math.random() < this.net.knobs.failureRate) throw new Error('simulated send failure');
    // The id the core chose (stored under it already), unless the "server" assigns ids.
    const messageId =
      !this.net.knobs.serverIds && msg.message_id ? msg.message_id : SimulatorNetwork.messageId();
    if (this.net.knobs.acksFirst) {
      // The receipts overtake the send: persisted before the core learns that the send went out.
      await this.ctx.emit({ type: 'ack', message_id: messageId, status: 'delivered' });
      await this.ctx.emit({ type: 'ack', message_id: messageId, status: 'read' });
      return { message_id: messageId, timestamp: new Date().toISOString() };
    }
    const ackDelay = this.net.knobs.ackDelayMs;
    this.later(ackDelay, () => this.ctx.emit({ type: 'ack', message_id: messageId, status: 'delivered' }));
    this.later(ackDelay * 2, () => this.ctx.emit({ type: 'ack', message_id: messageId, status: 'read' }));
    return { message_id: messageId, timestamp: new Date().toISOString() };
  }

  private later(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.state !== 'closed')
        void fn().catch((err) =>
          this.ctx.logger.warn({ err: String(err), delay_ms: ms }, 'simulator: a scheduled event failed'),
        );
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  async control(action: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (action) {
      case 'scan': {
        if (this.state !== 'qr')
          throw new SbError('SB_ERR_NO_QR', 'the simulator session is not waiting for a scan');
        const phone =
          typeof payload.phone === 'string' ? payload.phone.replace(/\D/g, '') : SimulatorNetwork.fakePhone();
        await this.login(phone);
        return { account: this.account };
      }
      case 'inbound': {
        if (this.state !== 'ready')
          throw new SbError('SB_ERR_NOT_CONNECTED', 'the simulator session is not connected');
        const from = String(payload.from);
        const messageId =
          typeof payload.message_id === 'string'
            ? payload.message_id
            : `SIMIN${randomBytes(10).toString('hex').toUpperCase()}`;
        const isGroup = from.endsWith('@g.us');
        await this.ctx.emit({
          type: 'message',
          message: {
            message_id: messageId,
            chat_id: from,
            from: isGroup && typeof payload.participant === 'string' ? payload.participant : from,
            to: this.account,
            body: String(payload.text ?? ''),
            type: 'text',
            is_from_me: false,
            is_group: isGroup,
            group_id: isGroup ? from : null,
            contact_name: typeof payload.name === 'string' ? payload.name : null,
            timestamp: new Date().toISOString(),
          },
        });
        return { message_id: messageId };
      }
      case 'ack': {
        // A receipt for a message, reported now (tests measure and race acks with it).
        if (this.state !== 'ready')
          throw new SbError('SB_ERR_NOT_CONNECTED', 'the simulator session is not connected');
        const status = payload.status === 'read' ? 'read' : 'delivered';
        await this.ctx.emit({ type: 'ack', message_id: String(payload.message_id), status });
        return { message_id: String(payload.message_id), status };
      }
      case 'mark_read': {
        if (this.state !== 'ready')
          throw new SbError('SB_ERR_NOT_CONNECTED', 'the simulator session is not connected');
        return { read: Array.isArray(payload.message_ids) ? payload.message_ids.length : 0 };
      }
      case 'create_group': {
        if (this.state !== 'ready')
          throw new SbError('SB_ERR_NOT_CONNECTED', 'the simulator session is not connected');
        const groupId = `120363${String(randomBytes(6).readUIntBE(0, 6)).padStart(12, '0')}@g.us`;
        return {
          group_id: groupId,
          subject: String(payload.subject ?? ''),
          participants: payload.participants ?? [],
        };
      }
      case 'drop': {
        if (this.state !== 'ready')
          throw new SbError('SB_ERR_NOT_CONNECTED', 'the simulator session is not connected');
        await this.ctx.emit({ type: 'auth', auth_status: 'reconnecting', reason: 'connection lost' });
        await this.net.delay();
        if ((this.state as State) === 'closed') return { reconnected: false };
        await this.ctx.emit({ type: 'auth', auth_status: 'client_ready', account: this.account });
        return { reconnected: true };
      }
      case 'logout': {
        await this.stop();
        await this.ctx.emit({ type: 'auth', auth_status: 'logged_out', reason: 'device removed from phone' });
        return { logged_out: true };
      }
      default:
        throw new SbError('SB_ERR_VALIDATION', `unknown simulator action ${action}`);
    }
  }
}
