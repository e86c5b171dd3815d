// One WhatsApp session on Baileys: the socket's lifecycle — login (QR, pairing code), the disconnect policy, health.
import {
  type BaileysEventMap,
  type ConnectionState,
  DisconnectReason,
  type proto,
  type UserFacingSocketConfig,
  type WAMessageKey,
} from 'baileys';
import { SbError } from '../../domain/errors.js';
import type { OutboundMessage, ProviderSession, SendResult, SessionContext } from '../../ports/provider.js';
import { type DbAuthState, SESSION_KEY_TYPES, useDbAuthState } from './auth-store.js';
import { baileysLogger, errText } from './baileys-logger.js';
import { runControl } from './controls.js';
import { DecryptWatch } from './decrypt-watch.js';
import { backoffDelay, closeCode, disconnectRule } from './disconnect-policy.js';
import { GroupCache } from './groups.js';
import { HistoryImporter } from './history.js';
import { pairOf, SessionIdentities } from './identities.js';
import { InboundHandler } from './inbound.js';
import { bareJid } from './mapper.js';
import { loadOutboundMedia, sendOutbound } from './outbound.js';
import { SessionProbe } from './probe.js';
import { SentLedger } from './sent-ledger.js';
import type { WaSocket, WhatsAppSessionDeps } from './session-deps.js';

export type {
  SocketMaker,
  StoredMessageRef,
  WaSocket,
  WhatsAppKnobs,
  WhatsAppSessionDeps,
} from './session-deps.js';

type State = 'idle' | 'connecting' | 'open' | 'closed';

/** Live session of one `whatsapp` instance. */
export class WhatsAppSession implements ProviderSession {
  private state: State = 'idle';
  private sock: WaSocket | null = null;
  /** Incremented for every socket; events of older sockets are ignored. */
  private generation = 0;
  private auth: DbAuthState | null = null;
  private attempts = 0;
  private replacedCount = 0;
  private account: string | null = null;
  private hasQr = false;
  private qrWaiters: Array<() => void> = [];
  private reconnectTimer: NodeJS.Timeout | null = null;
  private probe: SessionProbe | null = null;
  /** Serialises the handling of socket events. */
  private events: Promise<void> = Promise.resolve();
  /** Our recent sends (echoes, retry requests) and the ack gates of sends in flight. */
  private readonly sent: SentLedger;
  private readonly inbound: InboundHandler;

  private readonly history: HistoryImporter;
  private readonly decrypt: DecryptWatch;
  /** LID ↔ phone identities learned in this session. */
  private readonly ids: SessionIdentities;
  /** Group metadata (one fetch per group; Baileys reads it when sending to a group). */
  readonly groups: GroupCache;

  constructor(readonly deps: WhatsAppSessionDeps) {
    this.history = new HistoryImporter({
      ctx: deps.ctx,
      store: deps.history,
      days: deps.knobs.historyDays,
      saveContact: (id, name, pn) => this.inbound.saveContact(id, name, pn),
    });
    this.decrypt = new DecryptWatch({
      retryWindowMs: deps.knobs.decryptRetryMs,
      report: (e) => this.ctx.emit(e),
      logger: deps.ctx.logger,
    });
    this.ids = new SessionIdentities(deps.ctx.instanceId, deps.identities, deps.ctx.logger);
    this.groups = new GroupCache(
      (e) => deps.ctx.emit(e),
      async (g) => deps.nameGroupChat?.(g.id, g.subject, g.creation),
      (obj, msg) => deps.ctx.logger.warn(obj, msg),
    );
    this.sent = new SentLedger(deps.ctx);
    this.inbound = new InboundHandler({
      ctx: deps.ctx,
      auth: deps.auth,
      upsertContact: deps.upsertContact,
      ids: this.ids,
      decrypt: this.decrypt,
      sent: this.sent,
      account: () => this.account,
      lidMapping: () => this.sock?.signalRepository?.lidMapping,
    });
  }

  private get ctx(): SessionContext {
    return this.deps.ctx;
  }

  async start(): Promise<void> {
    this.state = 'connecting';
    // Logged out while no session ran (so we could not tell WhatsApp): the old creds must not log in again.
    if (this.ctx.previous.auth_status === 'logged_out') await this.deps.auth.wipe(this.ctx.instanceId);
    this.auth = await useDbAuthState(this.deps.auth, this.ctx.instanceId);
    this.connect();
  }

  /** Opens a new socket; events of the previous one are ignored from now on. */
  private connect(): void {
    if (this.state === 'closed' || !this.auth) return;
    const gen = ++this.generation;
    this.state = 'connecting';
    this.hasQr = false;
    const { knobs } = this.deps;
    const sock = this.deps.makeSocket({
      ...(knobs.wsUrl ? { waWebSocketUrl: knobs.wsUrl } : {}),
      auth: this.auth.state,
      version: knobs.version,
      logger: baileysLogger(this.ctx.logger) as unknown as UserFacingSocketConfig['logger'],
      shouldSyncHistoryMessage: () => knobs.historyDays > 0,
      syncFullHistory: false,
      markOnlineOnConnect: false,
      connectTimeoutMs: knobs.connectTimeoutMs,
      keepAliveIntervalMs: knobs.keepAliveIntervalMs,
      getMessage: (key) => this.getMessage(key),
      cachedGroupMetadata: (jid) => this.groups.forSend(this.sock, jid),
    });
    this.sock = sock;
    const on = <E extends keyof BaileysEventMap>(
      event: E,
      fn: (arg: BaileysEventMap[E]) => Promise<void>,
    ) => {
      sock.ev.on(event, (arg) => {
        // One event at a time, in the order Baileys emitted them.
        this.events = this.events.then(async () => {
          if (gen !== this.generation || this.state === 'closed') return;
          await fn(arg).catch((err) =>
            this.ctx.logger.warn({ err: errText(err), event }, 'whatsapp event handling failed'),
          );
        });
      });
    };
    on('creds.update', async () => {
      await this.auth?.saveCreds();
    });
    on('connection.update', (u) => this.onConnectionUpdate(u));
    on('messages.upsert', (u) => this.inbound.onUpsert(u.messages));
    on('messages.update', (updates) => this.inbound.onUpdates(updates));
    on('contacts.upsert', (list) => this.inbound.onContacts(list));
    on('groups.upsert', (list) => this.groups.onUpsert(list));
    on('groups.update', (list) => this.groups.onUpdate(list));
    on('group-participants.update', async (u) => {
      for (const p of u.participants)
        await this.ids.learn(pairOf(p.id, p.phoneNumber) ?? pairOf(p.id, p.lid));
      await this.groups.onParticipants(u);
    });
    on('messaging-history.set', (h) => this.history.onSet(h, this.account));
    on('lid-mapping.update', (m) => this.inbound.onLidMapping(m));
  }

  private async onConnectionUpdate(u: Partial<ConnectionState>): Promise<void> {
    if (u.qr) {
      this.hasQr = true;
      for (const w of this.qrWaiters.splice(0)) w();
      await this.ctx.emit({ type: 'qr', qr: u.qr });
    }
    if (u.isNewLogin) {
      const me = this.auth?.state.creds.me?.id;
      if (me) this.account = bareJid(me);
      await this.ctx.emit({ type: 'auth', auth_status: 'authenticated', account: this.account });
    }
    if (u.connection === 'open') {
      this.state = 'open';
      this.attempts = 0;
      const id = this.sock?.user?.id ?? this.auth?.state.creds.me?.id;
      if (id) this.account = bareJid(id);
      this.startHealthCheck();
      await this.ctx.emit({ type: 'auth', auth_status: 'client_ready', account: this.account });
    } else if (u.connection === 'close') {
      await this.onClose(closeCode(u.lastDisconnect?.error));
    }
  }

  /** Applies the disconnect policy to a close with status `code`. */
  private async onClose(code: number | undefined): Promise<void> {
    this.stopHealthCheck();
    this.sock = null;
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'connecting';
    const rule = disconnectRule(code);
    this.ctx.logger.info({ code, reason: rule.reason, action: rule.action }, 'whatsapp connection closed');
    switch (rule.action) {
      case 'reconnect_now':
        if (wasOpen) await this.emitReconnecting(rule.reason);
        this.connect();
        return;
      case 'backoff':
        return this.scheduleReconnect(rule.reason);
      case 'bad_session':
        await this.deps.auth.clearKeys(this.ctx.instanceId, SESSION_KEY_TYPES);
        // Reload so Baileys' key cache forgets the cleared sessions.
        this.auth = await useDbAuthState(this.deps.auth, this.ctx.instanceId);
        return this.scheduleReconnect(rule.reason, 0);
      case 'logged_out':
        this.state = 'closed';
        this.clearTimers();
        await this.deps.auth.wipe(this.ctx.instanceId);
        await this.ctx.emit({ type: 'auth', auth_status: 'logged_out', reason: rule.reason });
        return;
      case 'failed':
        this.state = 'closed';
        this.clearTimers();
        await this.ctx.emit({ type: 'auth', auth_status: 'failed', reason: rule.reason });
        return;
      case 'replaced': {
        this.replacedCount++;
        const owns = this.deps.ownsSession ? await this.deps.ownsSession() : true;
        if (this.replacedCount === 1 && owns) {
          return this.scheduleReconnect(rule.reason, this.deps.knobs.backoffBaseMs, false);
        }
        // Never fight another client for the session: stay disconnected until an operator restarts it.
        await this.ctx.emit({
          type: 'error',
          code: 'connection_replaced',
          message: 'the WhatsApp session was opened by another client; not reconnecting',
        });
        await this.ctx.emit({ type: 'auth', auth_status: 'disconnected', reason: rule.reason });
        return;
      }
    }
  }

  private async emitReconnecting(reason: string): Promise<void> {
    await this.ctx.emit({ type: 'auth', auth_status: 'reconnecting', reason });
  }

  /** Reconnects after a backoff delay; after MAX_RECONNECT_ATTEMPTS gives up with `reconnect_failed`. */
  private async scheduleReconnect(reason: string, delayMs?: number, count = true): Promise<void> {
    if (count) this.attempts++;
    if (count && this.attempts > this.deps.knobs.maxReconnectAttempts) {
      const attempts = this.attempts - 1;
      this.state = 'closed';
      this.clearTimers();
      await this.ctx.emit({ type: 'reconnect_failed', attempts });
      await this.ctx.emit({
        type: 'auth',
        auth_status: 'failed',
        reason: `reconnect failed after ${attempts} attempts (${reason})`,
      });
      return;
    }
    const wait =
      delayMs ??
      backoffDelay(this.attempts, {
        baseMs: this.deps.knobs.backoffBaseMs,
        maxMs: this.deps.knobs.backoffMaxMs,
        random: this.deps.random,
      });
    // Before the first login there is nothing to reconnect to: the next socket just shows new QRs.
    if (this.auth?.registered) await this.emitReconnecting(reason);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, wait);
    this.reconnectTimer.unref?.();
  }

  /** Starts the active probe for the socket that just opened (HEALTH_CHECK_INTERVAL_MS; 0 = off). */
  private startHealthCheck(): void {
    this.stopHealthCheck();
    const sock = this.sock;
    if (!sock || this.deps.knobs.healthCheckIntervalMs <= 0) return;
    const gen = this.generation;
    this.probe = new SessionProbe({
      intervalMs: this.deps.knobs.healthCheckIntervalMs,
      // A ping cut short by the socket closing is not silence: the close goes through the disconnect policy.
      query: (node, timeoutMs) =>
        sock.query(node, timeoutMs).catch((err) => {
          if (closeCode(err) === DisconnectReason.connectionClosed) return null;
          throw err;
        }),
      onDead: (reason, sinceAnswerMs) => this.onProbeFailed(gen, sock, reason, sinceAnswerMs),
    });
    this.probe.start();
  }

  private stopHealthCheck(): void {
    this.probe?.stop();
    this.probe = null;
  }

  /** Runs one probe now (tests, and an operator's health request); false when the socket was found dead. */
  async healthCheck(): Promise<boolean> {
    if (this.state !== 'open' || !this.probe) return true;
    return this.probe.probeOnce();
  }

  /**
   * The socket claims to be open but did not answer: leave client_ready (`reconnecting`), report
   * `health_check_failed` and log in again on a new socket from the stored credentials (no QR).
   */
  private async onProbeFailed(
    gen: number,
    sock: WaSocket,
    reason: string,
    sinceAnswerMs: number,
  ): Promise<void> {
    if (gen !== this.generation || this.state !== 'open') return;
    this.ctx.logger.warn({ reason, since_answer_ms: sinceAnswerMs }, 'whatsapp socket silent; restarting it');
    this.generation++; // the old socket's close must not trigger the disconnect policy
    this.probe = null;
    this.state = 'connecting';
    try {
      sock.end(undefined);
    } catch (err) {
      this.ctx.logger.debug({ err: errText(err) }, 'ending the silent socket failed');
    }
    await this.ctx.emit({ type: 'health_check_failed', reason, since_answer_ms: sinceAnswerMs });
    await this.emitReconnecting('health_check_failed');
    this.connect();
  }

  /** Answers Baileys' retry requests: our own recent sends first, then the message store. */
  private async getMessage(key: WAMessageKey): Promise<proto.IMessage | undefined> {
    if (!key.id) return undefined;
    const recent = this.sent.content(key.id);
    if (recent) return recent;
    const stored = await this.deps.findMessage(this.ctx.instanceId, key.id);
    return stored?.body ? { conversation: stored.body } : undefined;
  }

  private clearTimers(): void {
    this.stopHealthCheck();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  async stop(): Promise<void> {
    if (this.state === 'closed' && !this.sock) return;
    this.state = 'closed';
    this.clearTimers();
    await this.decrypt.flushAll();
    const sock = this.sock;
    this.sock = null;
    this.generation++;
    for (const w of this.qrWaiters.splice(0)) w();
    if (sock) {
      try {
        sock.end(undefined);
      } catch (err) {
        this.ctx.logger.debug({ err: errText(err) }, 'ending the socket at stop failed');
      }
    }
    // Creds changed since the last save would be lost: a failure here is worth an operator's look.
    await this.auth
      ?.saveCreds()
      .catch((err) => this.ctx.logger.warn({ err: errText(err) }, 'saving whatsapp creds at stop failed'));
  }

  async logout(): Promise<void> {
    const sock = this.sock;
    if (sock && this.state === 'open') {
      this.generation++;
      await sock
        .logout()
        .catch((err) => this.ctx.logger.warn({ err: errText(err) }, 'whatsapp logout failed'));
    }
    await this.stop();
    await this.deps.auth.wipe(this.ctx.instanceId);
  }

  private requireOpen(): WaSocket {
    if (this.state !== 'open' || !this.sock) {
      throw new SbError('SB_ERR_NOT_CONNECTED', 'the WhatsApp session is not connected');
    }
    return this.sock;
  }

  async send(msg: OutboundMessage): Promise<SendResult> {
    const sock = this.requireOpen();
    return sendOutbound(sock, msg, {
      sent: this.sent,
      ids: this.ids,
      findMessage: (id) => this.deps.findMessage(this.ctx.instanceId, id),
      loadMedia: (m) => loadOutboundMedia(m, this.deps.knobs.maxMediaBytes, this.deps.fetchMedia),
    });
  }

  /** pairing_code (login) here; every other action in controls.ts. */
  async control(action: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (action === 'pairing_code') return { code: await this.pairingCode(String(payload.phone ?? '')) };
    return runControl(
      {
        deps: this.deps,
        groups: this.groups,
        account: () => this.account,
        requireOpen: () => this.requireOpen(),
      },
      action,
      payload,
    );
  }

  /** Requests an 8-character pairing code for `phone` (an alternative to scanning the QR). */
  private async pairingCode(phone: string): Promise<string> {
    const digits = phone.replace(/\D/g, '');
    if (digits.length < 6 || digits.length > 15) {
      throw new SbError('SB_ERR_VALIDATION', 'phone: expected a phone number in international format');
    }
    if (this.auth?.registered || this.state === 'open') {
      throw new SbError('SB_ERR_INVALID_STATE', 'the instance is already logged in');
    }
    if (!this.hasQr) {
      // The socket must be connected (its first QR shows that) before a code can be requested.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 15_000);
        t.unref?.();
        this.qrWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const sock = this.sock;
    if (!sock || !this.hasQr || this.state === 'closed') {
      throw new SbError('SB_ERR_INVALID_STATE', 'the WhatsApp socket is not ready for a pairing code');
    }
    try {
      return await sock.requestPairingCode(digits);
    } catch (err) {
      throw new SbError('SB_ERR_PROVIDER', `WhatsApp refused the pairing code request: ${errText(err)}`, {
        cause: err,
      });
    }
  }
}
