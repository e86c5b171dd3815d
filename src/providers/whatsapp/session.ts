// One WhatsApp session on Baileys: login (QR, pairing code), the disconnect policy, inbound/outbound, health.
import { randomBytes } from 'node:crypto';
import {
  type BaileysEventMap,
  type ConnectionState,
  DisconnectReason,
  downloadMediaMessage,
  type proto,
  type UserFacingSocketConfig,
  type WAMessage,
  type WAMessageKey,
  type WASocket,
} from 'baileys';
import { SbError } from '../../domain/errors.js';
import type { MessageStatus } from '../../domain/statuses.js';
import type { HistoryStore } from '../../ports/history.js';
import type { IdentityStore } from '../../ports/identities.js';
import type { OutboundMessage, ProviderSession, SendResult, SessionContext } from '../../ports/provider.js';
import { type DbAuthState, SESSION_KEY_TYPES, useDbAuthState, type WhatsAppAuthPort } from './auth-store.js';
import { DecryptWatch } from './decrypt-watch.js';
import { backoffDelay, closeCode, disconnectRule } from './disconnect-policy.js';
import { GroupCache, groupView, rateLimitError } from './groups.js';
import { HistoryImporter } from './history.js';
import { type LidLookup, pairOf, pairOfKey, SessionIdentities } from './identities.js';
import { ackStatus, bareJid, mapMessage, phoneOf } from './mapper.js';
import { buildOutbound } from './outbound.js';
import { SessionProbe } from './probe.js';

/** The part of Baileys' socket the session uses (a fake socket in tests implements just this). */
export type WaSocket = Pick<
  WASocket,
  | 'ev'
  | 'end'
  | 'logout'
  | 'sendMessage'
  | 'requestPairingCode'
  | 'readMessages'
  | 'sendPresenceUpdate'
  | 'query'
  | 'updateMediaMessage'
  | 'groupCreate'
  | 'groupMetadata'
  | 'groupFetchAllParticipating'
  | 'groupParticipantsUpdate'
> & { user?: WASocket['user']; signalRepository?: { lidMapping: LidLookup } };

/** Builds a socket (Baileys' `makeWASocket` in production). */
export type SocketMaker = (config: UserFacingSocketConfig) => WaSocket;

/** A stored message, as far as the session needs it (replies, reactions, retry requests). */
export interface StoredMessageRef {
  chat_id: string;
  body: string | null;
  is_from_me: boolean;
  from: string | null;
}

/** Tunables of the session (from configuration; tests shorten them). */
export interface WhatsAppKnobs {
  wsUrl?: string;
  version: [number, number, number];
  maxReconnectAttempts: number;
  healthCheckIntervalMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  connectTimeoutMs: number;
  keepAliveIntervalMs: number;
  /** Largest outbound media item in bytes. */
  maxMediaBytes: number;
  /**
   * History sync after a link (WHATSAPP_HISTORY_DAYS): messages up to this many days old are stored; 0 tells
   * Baileys to take no history (it then skips the initial app-state sync and the wait for the history).
   */
  historyDays: number;
  /** How long an undecryptable message waits for the sender's re-send before it is reported (ms). */
  decryptRetryMs: number;
}

export interface WhatsAppSessionDeps {
  ctx: SessionContext;
  auth: WhatsAppAuthPort;
  makeSocket: SocketMaker;
  knobs: WhatsAppKnobs;
  /** Looks up a stored message of this instance by WhatsApp message id. */
  findMessage(instanceId: string, messageId: string): Promise<StoredMessageRef | null>;
  /** Keeps the contacts table current (names, LID ↔ phone). */
  upsertContact?(c: { contact_id: string; name: string | null; phone: string | null }): Promise<void>;
  /** Stores history-sync messages (idempotent); without it history is counted but not kept. */
  history?: HistoryStore;
  /** Whether this process still owns the session (a lease elsewhere may say no). Default: yes. */
  ownsSession?(): Promise<boolean>;
  /** Downloads and decrypts an inbound media message (Baileys' downloadMediaMessage; tests replace it). */
  downloadMedia?(raw: WAMessage, sock: WaSocket): Promise<Buffer>;
  /** Fetches outbound media by URL: the gateway's guarded fetch (SSRF-safe, size-capped); tests replace it. */
  fetchMedia?(url: string, maxBytes: number): Promise<Buffer>;
  random?: () => number;
  /** Names a group's chat after its subject (creating the chat when new); `creation` in Unix seconds. */
  nameGroupChat?(chatId: string, subject: string, creation?: number): Promise<void>;
  /** LID ↔ phone pairs of the instance (merges a LID's chat into the phone's); without it LIDs stay as they come. */
  identities?: IdentityStore;
}

type State = 'idle' | 'connecting' | 'open' | 'closed';

/** How long after a send returns its acks are held back (the core stores the message id meanwhile). */
const ACK_GRACE_MS = 250;

/** Message types whose bytes can be downloaded later. */
const MEDIA_KINDS = new Set(['image', 'video', 'audio', 'document', 'sticker']);

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
  /** Ids of messages we sent: their echo in messages.upsert is not stored twice. */
  private readonly sentIds = new Map<string, proto.IMessage>();
  /** Sends in flight (plus a short grace): acks for them wait until the core knows the message id. */
  private readonly sendGates = new Map<string, Promise<void>>();

  private readonly history: HistoryImporter;
  private readonly decrypt: DecryptWatch;
  /** LID ↔ phone identities learned in this session. */
  private readonly ids: SessionIdentities;
  /** Group metadata (one fetch per group; Baileys reads it when sending to a group). */
  private readonly groups: GroupCache;

  constructor(private readonly deps: WhatsAppSessionDeps) {
    this.history = new HistoryImporter({
      ctx: deps.ctx,
      store: deps.history,
      days: deps.knobs.historyDays,
      saveContact: (id, name, pn) => this.saveContact(id, name, pn),
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
    );
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
    on('messages.upsert', (u) => this.onUpsert(u.messages));
    on('messages.update', async (updates) => {
      for (const u of updates) {
        const status = ackStatus(u.update?.status);
        if (!status || !u.key.id || !u.key.fromMe) continue;
        await this.emitAck(u.key.id, status);
      }
    });
    on('contacts.upsert', async (list) => {
      for (const c of list) {
        await this.ids.learn(
          pairOf(c.id, c.phoneNumber) ?? pairOf(c.lid, c.id) ?? pairOf(c.lid, c.phoneNumber),
        );
        await this.saveContact(c.id, c.name ?? c.notify ?? null, c.phoneNumber ?? null);
      }
    });
    on('groups.upsert', (list) => this.groups.onUpsert(list));
    on('groups.update', (list) => this.groups.onUpdate(list));
    on('group-participants.update', async (u) => {
      for (const p of u.participants)
        await this.ids.learn(pairOf(p.id, p.phoneNumber) ?? pairOf(p.id, p.lid));
      await this.groups.onParticipants(u);
    });
    on('messaging-history.set', (h) => this.history.onSet(h, this.account));
    on('lid-mapping.update', async (m) => {
      await this.ids.learn(pairOf(m.lid, m.pn));
      if (m.pn) await this.saveContact(m.pn, null, m.pn);
    });
  }

  private async saveContact(id: string, name: string | null, pn: string | null): Promise<void> {
    if (!this.deps.upsertContact || !id || id.endsWith('@g.us')) return;
    const contactId = phoneOf(id) ? bareJid(id) : pn && phoneOf(pn) ? bareJid(pn) : bareJid(id);
    await this.deps.upsertContact({ contact_id: contactId, name, phone: phoneOf(contactId) ?? phoneOf(pn) });
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

  private async onUpsert(messages: WAMessage[]): Promise<void> {
    for (const m of messages) {
      if (DecryptWatch.isFailure(m)) {
        this.decrypt.failed(m);
        continue;
      }
      this.decrypt.resolved(m.key.id);
      if (m.key.fromMe && m.key.id && this.sentIds.has(m.key.id)) {
        // Our own send echoed back; Baileys may have merged an early receipt into it.
        const status = ackStatus(m.status);
        if (status === 'delivered' || status === 'read') await this.emitAck(m.key.id, status);
        continue;
      }
      await this.ids.learn(pairOfKey(m.key));
      const first = mapMessage(m, this.account);
      if (!first) continue;
      const mapped = await this.ids.canonical(first, this.sock?.signalRepository?.lidMapping);
      if (mapped.media && MEDIA_KINDS.has(mapped.type)) {
        await this.deps.auth.saveMediaRef(this.ctx.instanceId, mapped.message_id, {
          key: m.key,
          message: m.message,
        });
      }
      await this.ctx.emit({ type: 'message', message: mapped });
    }
  }

  /**
   * Reports an ack. An ack for a send still in flight (or just returned, before the core has stored the message
   * id) waits for it, so an early receipt is not lost.
   */
  private async emitAck(messageId: string, status: MessageStatus): Promise<void> {
    const gate = this.sendGates.get(messageId);
    if (!gate) return this.ctx.emit({ type: 'ack', message_id: messageId, status });
    void gate
      .then(() => this.ctx.emit({ type: 'ack', message_id: messageId, status }))
      .catch((err) => this.ctx.logger.warn({ err: errText(err) }, 'ack handling failed'));
  }

  /** Answers Baileys' retry requests: our own recent sends first, then the message store. */
  private async getMessage(key: WAMessageKey): Promise<proto.IMessage | undefined> {
    if (!key.id) return undefined;
    const recent = this.sentIds.get(key.id);
    if (recent && Object.keys(recent).length > 0) return recent;
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
      } catch {}
    }
    await this.auth?.saveCreds().catch(() => {});
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
    const jid = msg.to;
    const { content, quoted } = await buildOutbound(msg, {
      findMessage: (id) => this.deps.findMessage(this.ctx.instanceId, id),
      loadMedia: (m) => this.loadMedia(m),
    });
    const messageId = `3EB0${randomBytes(8).toString('hex').toUpperCase()}`;
    this.rememberSent(messageId, {});
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.sendGates.set(messageId, gate);
    const release = () => {
      const t = setTimeout(() => {
        this.sendGates.delete(messageId);
        open();
      }, ACK_GRACE_MS);
      t.unref?.();
    };
    try {
      const sent = await sock.sendMessage(jid, content, { messageId, ...(quoted ? { quoted } : {}) });
      if (sent?.message) this.rememberSent(messageId, sent.message);
      release();
      await this.ids.learnFromSend(jid, sock.signalRepository?.lidMapping);
      const ts = sent?.messageTimestamp;
      const seconds = typeof ts === 'number' ? ts : ts ? Number(ts.toString()) : 0;
      return {
        message_id: sent?.key.id ?? messageId,
        timestamp: (seconds > 0 ? new Date(seconds * 1000) : new Date()).toISOString(),
      };
    } catch (err) {
      this.sentIds.delete(messageId);
      release();
      throw rateLimitError(err);
    }
  }

  private rememberSent(id: string, message: proto.IMessage): void {
    this.sentIds.set(id, message);
    if (this.sentIds.size > 1000) {
      const oldest = this.sentIds.keys().next().value;
      if (oldest !== undefined) this.sentIds.delete(oldest);
    }
  }

  private async loadMedia(m: NonNullable<OutboundMessage['media']>): Promise<Buffer> {
    const max = this.deps.knobs.maxMediaBytes;
    let data: Buffer;
    if (m.base64) {
      data = Buffer.from(m.base64.replace(/^data:[^,]*,/, ''), 'base64');
    } else if (m.url) {
      data = await (this.deps.fetchMedia ?? fetchMedia)(m.url, max);
    } else {
      throw new SbError('SB_ERR_VALIDATION', 'media needs url or base64');
    }
    if (data.length === 0) throw new SbError('SB_ERR_VALIDATION', 'media is empty');
    if (data.length > max) {
      throw new SbError('SB_ERR_PAYLOAD_TOO_LARGE', `media is larger than ${max} bytes`, {
        details: { max_bytes: max },
      });
    }
    return data;
  }

  async control(action: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (action) {
      case 'pairing_code':
        return { code: await this.pairingCode(String(payload.phone ?? '')) };
      case 'download_media':
        return this.downloadMedia(String(payload.message_id ?? ''));
      case 'mark_read': {
        const sock = this.requireOpen();
        const chat = String(payload.chat_id ?? '');
        const ids = Array.isArray(payload.message_ids) ? payload.message_ids.map(String) : [];
        await sock.readMessages(ids.map((id) => ({ remoteJid: chat, id, fromMe: false })));
        return { read: ids.length };
      }
      case 'create_group': {
        const sock = this.requireOpen();
        const participants = Array.isArray(payload.participants) ? payload.participants.map(String) : [];
        const meta = await sock.groupCreate(String(payload.subject ?? ''), participants).catch((e) => {
          throw rateLimitError(e);
        });
        await this.groups.onUpsert([meta]);
        return { group_id: meta.id, subject: meta.subject, group: groupView(meta) };
      }
      case 'list_groups': {
        const list = await this.groups.list(this.requireOpen(), payload.refresh === true);
        return { groups: list.map(groupView) };
      }
      case 'group_info': {
        const meta = await this.groups.get(this.requireOpen(), String(payload.group_id ?? ''));
        return { group: groupView(meta) };
      }
      case 'group_participants': {
        const sock = this.requireOpen();
        const action = String(payload.action) as 'add' | 'remove' | 'promote' | 'demote';
        const jids = Array.isArray(payload.participants) ? payload.participants.map(String) : [];
        const res = await sock
          .groupParticipantsUpdate(String(payload.group_id ?? ''), jids, action)
          .catch((e) => {
            throw rateLimitError(e);
          });
        return { results: res.map((r) => ({ id: r.jid ?? null, status: Number(r.status) || null })) };
      }
      case 'typing': {
        const sock = this.requireOpen();
        const presence = payload.state === 'paused' ? 'paused' : 'composing';
        await sock.sendPresenceUpdate(presence, String(payload.chat_id ?? ''));
        return { presence };
      }
      default:
        throw new SbError('SB_ERR_UNSUPPORTED', `the whatsapp provider has no action ${action}`);
    }
  }

  /** The bytes of an inbound media message, fetched from WhatsApp's media servers and decrypted. */
  private async downloadMedia(messageId: string): Promise<Record<string, unknown>> {
    const raw = (await this.deps.auth.loadMediaRef(this.ctx.instanceId, messageId)) as WAMessage | null;
    if (!raw) throw new SbError('SB_ERR_MESSAGE_NOT_FOUND', `no media for message ${messageId}`);
    const sock = this.requireOpen();
    const mapped = mapMessage(raw, this.account);
    const download =
      this.deps.downloadMedia ??
      ((msg: WAMessage, s: WaSocket) =>
        downloadMediaMessage(
          msg,
          'buffer',
          {},
          {
            reuploadRequest: (x) => s.updateMediaMessage(x),
            logger: baileysLogger(this.ctx.logger) as unknown as NonNullable<
              UserFacingSocketConfig['logger']
            >,
          },
        ));
    try {
      const data = await download(raw, sock);
      return {
        data,
        mimetype: (mapped?.media?.mimetype as string | null) ?? 'application/octet-stream',
        filename: (mapped?.media?.filename as string | null) ?? null,
      };
    } catch (err) {
      throw new SbError('SB_ERR_PROVIDER', `could not download the media: ${errText(err)}`, { cause: err });
    }
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

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Without the gateway's guarded fetch there is no way to fetch a user-given URL safely: refuse. */
async function fetchMedia(): Promise<Buffer> {
  throw new SbError('SB_ERR_UNSUPPORTED', 'media by URL is not available here; send it as base64');
}

/** Baileys' logger interface over ours: chatty levels dropped (they may include key material). */
function baileysLogger(log: SessionContext['logger']): Record<string, unknown> {
  const self: Record<string, unknown> = {
    level: 'warn',
    child: () => self,
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (obj: unknown, msg?: string) => log.warn({ baileys: summarize(obj) }, msg ?? 'baileys warning'),
    error: (obj: unknown, msg?: string) => log.error({ baileys: summarize(obj) }, msg ?? 'baileys error'),
  };
  return self;
}

/** Keeps only an error message from whatever Baileys logs (never buffers or keys). */
function summarize(obj: unknown): string {
  if (typeof obj === 'string') return obj.slice(0, 200);
  const err = (obj as { err?: unknown; error?: unknown } | null)?.err ?? (obj as { error?: unknown })?.error;
  return err instanceof Error ? err.message : typeof obj;
}
