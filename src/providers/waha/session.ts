// One WAHA-backed session: creates/starts the WAHA session with our webhook, follows its status, sends via WAHA.
import { WAHA_TOKEN_HEADER, wahaSessionName } from '../../core/waha-identity.js';
import { SbError } from '../../domain/errors.js';
import type { OutboundFetch } from '../../ports/outbound.js';
import type { OutboundMessage, ProviderSession, SendResult, SessionContext } from '../../ports/provider.js';
import {
  downloadWahaFile,
  toSbError,
  type WahaClient,
  WahaError,
  type WahaFile,
  type WahaSessionInfo,
  type WahaStatus,
} from './client.js';
import {
  ackStatus,
  authOf,
  fromWahaJid,
  mapWahaMessage,
  sentMessageId,
  toWahaChatId,
  wahaWebhookSchema,
} from './mapper.js';

/** Settings of the waha provider (all have defaults). */
export interface WahaKnobs {
  /** Base URL WAHA posts webhooks to (this gateway's public URL). */
  webhookBase: string;
  /** HMAC key WAHA signs webhooks with (X-Webhook-Hmac, sha512); unset = the per-instance token below. */
  hmacKey: string | undefined;
  /** The per-instance token WAHA echoes in a custom header when no HMAC key is set. */
  webhookToken?: (instanceId: string) => Promise<string>;
  /** How often the QR is re-read while WAHA waits for a scan, in ms (default 10 000; WhatsApp rotates ~20 s). */
  qrPollMs: number;
  /** Largest base64 media accepted, in bytes (default 16 MB). */
  maxMediaBytes: number;
  /** The gateway's guarded fetch: media by URL is downloaded through it and sent as data (WAHA never fetches it). */
  outbound?: OutboundFetch;
}

export const WAHA_EVENTS = ['session.status', 'message', 'message.ack'] as const;

export { wahaSessionName };

export class WahaSession implements ProviderSession {
  private closed = false;
  private status: WahaStatus | null = null;
  private wasReady = false;
  private account: string | null = null;
  private lastQr: string | null = null;
  private qrTimer: NodeJS.Timeout | null = null;
  /** Media of recent inbound messages by id, for downloads when the caller has no stored metadata. */
  private readonly mediaIndex = new Map<string, Record<string, unknown>>();
  readonly name: string;

  constructor(
    private readonly ctx: SessionContext,
    private readonly client: WahaClient,
    private readonly knobs: WahaKnobs,
  ) {
    // Derived from the instance id: a tenant's settings never name (and so never take over) a WAHA session.
    this.name = wahaSessionName(ctx.instanceId);
    this.wasReady =
      ctx.previous.auth_status === 'client_ready' || ctx.previous.auth_status === 'authenticated';
    this.account = ctx.previous.account;
  }

  private get webhookPath(): string {
    return `/webhooks/waha/${this.ctx.instanceId}`;
  }

  /**
   * The session config we give WAHA: our webhook for the events we map, authenticated either way — signed with
   * the HMAC key when one is set, otherwise carrying the instance's token in a header WAHA echoes.
   */
  private async config(): Promise<Record<string, unknown>> {
    const token =
      !this.knobs.hmacKey && this.knobs.webhookToken
        ? await this.knobs.webhookToken(this.ctx.instanceId)
        : null;
    return {
      webhooks: [
        {
          url: `${this.knobs.webhookBase}${this.webhookPath}`,
          events: [...WAHA_EVENTS],
          hmac: this.knobs.hmacKey ? { key: this.knobs.hmacKey } : null,
          retries: { policy: 'exponential', delaySeconds: 2, attempts: 5 },
          customHeaders: token ? [{ name: WAHA_TOKEN_HEADER, value: token }] : null,
        },
      ],
    };
  }

  /** True when an existing WAHA session is this instance's: its webhook points at this instance's route. */
  private isOurs(info: WahaSessionInfo): boolean {
    const hooks = (info.config?.webhooks ?? []) as Array<{ url?: unknown }>;
    return hooks.some((h) => {
      if (typeof h.url !== 'string') return false;
      try {
        return new URL(h.url).pathname === this.webhookPath;
      } catch {
        return false;
      }
    });
  }

  async start(): Promise<void> {
    try {
      const existing = await this.client.getSession(this.name);
      let info = existing;
      if (!existing) {
        info = await this.client.createSession(this.name, await this.config(), true);
      } else {
        // A session of this name that another party set up is never rewired or started by us.
        if (!this.isOurs(existing)) {
          throw new SbError(
            'SB_ERR_WAHA_SESSION_TAKEN',
            `the WAHA session ${this.name} exists and is not managed by this instance`,
          );
        }
        info = await this.client.updateSession(this.name, await this.config());
        if (info.status === 'STOPPED' || info.status === 'FAILED')
          info = await this.client.startSession(this.name);
      }
      const fresh = (await this.client.getSession(this.name)) ?? info!;
      await this.applyStatus(fresh.status, fresh.me?.id ?? null);
    } catch (err) {
      throw toSbError(err);
    }
  }

  /** Follows a WAHA status (from a webhook or a read); repeated statuses are ignored. */
  private async applyStatus(status: WahaStatus, meId: string | null): Promise<void> {
    if (this.closed) return;
    const changed = status !== this.status;
    this.status = status;
    if (status === 'SCAN_QR_CODE') {
      await this.refreshQr();
      this.scheduleQr();
      return;
    }
    this.clearQr();
    if (!changed) return;
    const auth = authOf(status, this.wasReady);
    if (!auth) return;
    if (auth === 'client_ready') {
      this.wasReady = true;
      if (meId) this.account = fromWahaJid(meId);
      await this.ctx.emit({ type: 'auth', auth_status: 'client_ready', account: this.account });
      return;
    }
    await this.ctx.emit({ type: 'auth', auth_status: auth, reason: `WAHA session ${status}` });
  }

  private async refreshQr(): Promise<void> {
    try {
      const qr = await this.client.getQr(this.name);
      if (!this.closed && this.status === 'SCAN_QR_CODE' && qr !== this.lastQr) {
        this.lastQr = qr;
        await this.ctx.emit({ type: 'qr', qr });
      }
    } catch (err) {
      // No QR any more usually means the status moved on (scanned, failed): read it, so a lost webhook
      // never leaves the instance waiting on a stale QR.
      let statusErr: string | undefined;
      const info = await this.client.getSession(this.name).catch((e: unknown) => {
        statusErr = e instanceof Error ? e.message : String(e);
        return null;
      });
      if (info && info.status !== 'SCAN_QR_CODE') {
        await this.applyStatus(info.status, info.me?.id ?? null);
        return;
      }
      this.ctx.logger.warn(
        { err: err instanceof Error ? err.message : String(err), status_err: statusErr },
        'could not read the WAHA QR',
      );
    }
  }

  private scheduleQr(): void {
    if (this.qrTimer || this.closed) return;
    this.qrTimer = setInterval(() => {
      if (this.status !== 'SCAN_QR_CODE' || this.closed) return this.clearQr();
      void this.refreshQr();
    }, this.knobs.qrPollMs);
    this.qrTimer.unref();
  }

  private clearQr(): void {
    if (this.qrTimer) clearInterval(this.qrTimer);
    this.qrTimer = null;
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearQr();
    try {
      await this.client.stopSession(this.name);
    } catch (err) {
      if (!(err instanceof WahaError && err.status === 404)) throw toSbError(err);
    }
  }

  async logout(): Promise<void> {
    try {
      await this.client.logoutSession(this.name);
    } catch (err) {
      if (!(err instanceof WahaError && err.status === 404)) throw toSbError(err);
    }
    await this.stop();
  }

  async send(msg: OutboundMessage): Promise<SendResult> {
    if (this.closed || this.status !== 'WORKING') {
      throw new SbError(
        'SB_ERR_NOT_CONNECTED',
        `the WAHA session is not WORKING (${this.status ?? 'unknown'})`,
      );
    }
    const chatId = toWahaChatId(msg.to);
    const reply = msg.reply_to ? { reply_to: msg.reply_to } : {};
    let res: unknown;
    try {
      if (msg.media) {
        const m = msg.media;
        if (m.base64 && Buffer.byteLength(m.base64, 'base64') > this.knobs.maxMediaBytes) {
          throw new SbError(
            'SB_ERR_PAYLOAD_TOO_LARGE',
            `media is larger than ${this.knobs.maxMediaBytes} bytes`,
          );
        }
        const mimetype = m.mimetype ?? 'application/octet-stream';
        // A user-given URL is fetched here through the guard: handed to WAHA, it would be fetched inside our network.
        if (m.url && !this.knobs.outbound) {
          throw new SbError('SB_ERR_UNSUPPORTED', 'media by URL is not available here; send it as base64');
        }
        const data = m.url
          ? (await this.knobs.outbound!.download(m.url, { maxBytes: this.knobs.maxMediaBytes })).toString(
              'base64',
            )
          : m.base64;
        const file: WahaFile = { mimetype, ...(m.filename ? { filename: m.filename } : {}), data };
        const kind = mimetype.startsWith('image/')
          ? 'sendImage'
          : mimetype.startsWith('video/')
            ? 'sendVideo'
            : mimetype === 'audio/ogg' || mimetype === 'audio/opus'
              ? 'sendVoice'
              : 'sendFile';
        res = await this.client.sendFile(kind, {
          session: this.name,
          chatId,
          file,
          ...(m.caption ? { caption: m.caption } : {}),
          ...reply,
        });
      } else {
        res = await this.client.sendText({ session: this.name, chatId, text: msg.text ?? '', ...reply });
      }
    } catch (err) {
      throw toSbError(err);
    }
    const id = sentMessageId(res);
    if (!id) throw new SbError('SB_ERR_PROVIDER', 'WAHA accepted the message but returned no message id');
    const ts = (res as { timestamp?: unknown }).timestamp;
    return {
      message_id: id,
      timestamp: new Date(typeof ts === 'number' ? ts * 1000 : Date.now()).toISOString(),
    };
  }

  private async downloadMedia(payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = String(payload.message_id ?? '');
    const given = payload.media as Record<string, unknown> | undefined;
    const media = typeof given?.url === 'string' ? given : this.mediaIndex.get(id);
    if (!media || typeof media.url !== 'string') {
      throw new SbError('SB_ERR_MESSAGE_NOT_FOUND', `no WAHA media file known for message ${id}`);
    }
    const data = await downloadWahaFile(
      this.client.baseUrl,
      this.client.apiKey,
      media.url,
      this.knobs.maxMediaBytes,
    );
    return { data, mimetype: media.mimetype ?? 'application/octet-stream', filename: media.filename ?? null };
  }

  async control(action: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (action === 'download_media') return this.downloadMedia(payload);
    if (action !== 'webhook')
      throw new SbError('SB_ERR_UNSUPPORTED', `the waha provider has no action ${action}`);
    const parsed = wahaWebhookSchema.safeParse(payload);
    if (!parsed.success) throw new SbError('SB_ERR_VALIDATION', 'not a WAHA webhook body');
    const hook = parsed.data;
    if (hook.session !== this.name) {
      throw new SbError('SB_ERR_VALIDATION', 'the webhook names a different WAHA session');
    }
    switch (hook.event) {
      case 'session.status': {
        const status = String(hook.payload.status ?? '') as WahaStatus;
        if (!['STOPPED', 'STARTING', 'SCAN_QR_CODE', 'WORKING', 'FAILED'].includes(status)) {
          throw new SbError('SB_ERR_VALIDATION', `unknown WAHA status ${status}`);
        }
        const me = (hook.payload.me as { id?: string } | undefined)?.id ?? hook.me?.id ?? null;
        // WAHA sends webhooks concurrently and retries them, so one can arrive after a later change (a STOPPED of
        // an earlier stop after the restart). The webhook says "something changed"; WAHA's session says what now.
        const now = await this.client.getSession(this.name).catch((err) => {
          this.ctx.logger.warn(
            { err: err instanceof Error ? err.message : String(err) },
            'could not read the WAHA session after a status webhook; following the webhook',
          );
          return null;
        });
        await this.applyStatus(now?.status ?? status, now ? (now.me?.id ?? me) : me);
        return { handled: 'session.status' };
      }
      case 'message': {
        const m = mapWahaMessage(hook.payload, this.account);
        if (!m) throw new SbError('SB_ERR_VALIDATION', 'not a WAHA message payload');
        if (m.media?.url) {
          this.mediaIndex.set(m.message_id, m.media);
          if (this.mediaIndex.size > 1000) this.mediaIndex.delete(this.mediaIndex.keys().next().value!);
        }
        await this.ctx.emit({ type: 'message', message: m });
        return { handled: 'message', message_id: m.message_id };
      }
      case 'message.ack': {
        const id = hook.payload.id;
        const status = ackStatus(Number(hook.payload.ack));
        if (typeof id === 'string' && status) await this.ctx.emit({ type: 'ack', message_id: id, status });
        return { handled: 'message.ack' };
      }
      default:
        return { ignored: hook.event };
    }
  }
}
