// One Telegram bot session: getMe, then long polling (409-aware backoff) or a verified webhook; send and chat actions.
import { timingSafeEqual } from 'node:crypto';
import { type Api, InputFile } from 'grammy';
import type { Update } from 'grammy/types';
import { SbError } from '../../domain/errors.js';
import type { OutboundFetch } from '../../ports/outbound.js';
import type { OutboundMessage, ProviderSession, SendResult, SessionContext } from '../../ports/provider.js';
import {
  errorCode,
  makeApi,
  PARSE_MODES,
  type ParseMode,
  retryAfter,
  scrub,
  webhookSecret,
} from './bot-api.js';
import { mapUpdate, parseTelegramMessageId, telegramMessageId, toIso } from './mapper.js';

/** Tuning of a telegram session; every field has a production default. */
export interface TelegramKnobs {
  /** Bot API root (a local Bot API server or an emulator); default https://api.telegram.org. */
  apiRoot?: string;
  /** Public base URL of the gateway: when set, the bot uses a webhook instead of long polling. */
  publicUrl?: string;
  /** Long-poll timeout sent to getUpdates, in seconds (default 30). */
  pollTimeoutSec: number;
  /** Pause after an empty getUpdates that returned at once (servers ignoring the timeout), in ms (default 1000). */
  emptyPollPauseMs: number;
  /** First backoff after a failure (409 conflict, network error), in ms (default 1000); doubles per failure. */
  backoffBaseMs: number;
  /** Upper bound of the backoff, in ms (default 60 000). */
  backoffMaxMs: number;
  /** Largest upload accepted for base64 media, in bytes (default 50 MB, the Bot API limit). */
  maxUploadBytes: number;
  /** Waits `ms` or until `signal` aborts (tests replace it to observe backoff without waiting). */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** The gateway's guarded fetch: media by URL is downloaded through it and uploaded (never handed to the Bot API). */
  outbound?: OutboundFetch;
}

export const DEFAULT_TELEGRAM_KNOBS: TelegramKnobs = {
  pollTimeoutSec: 30,
  emptyPollPauseMs: 1000,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  maxUploadBytes: 50 * 1024 * 1024,
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

const ALLOWED_UPDATES = ['message', 'edited_message', 'channel_post', 'edited_channel_post'] as const;
const CHAT_ACTIONS = ['typing', 'upload_photo', 'upload_video', 'upload_voice', 'upload_document'] as const;

type State = 'idle' | 'connecting' | 'ready' | 'closed';

interface MediaRef {
  file_id: string;
  mimetype: string | null;
  filename: string | null;
}

const MEDIA_INDEX_MAX = 1000;

/** Exponential backoff with ±20 % jitter: base · 2^(n−1), capped at max. */
export function backoffDelay(attempt: number, base: number, max: number, rand = Math.random): number {
  const raw = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(Math.min(max, raw * (0.8 + 0.4 * rand())));
}

export class TelegramSession implements ProviderSession {
  private state: State = 'idle';
  private readonly abort = new AbortController();
  private readonly api: Api;
  private readonly token: string;
  private botId: number | null = null;
  private account: string | null = null;
  private offset = 0;
  private loop: Promise<void> | null = null;
  /** file_id of recent inbound media by message id, for downloads when the caller has no stored metadata. */
  private readonly mediaIndex = new Map<string, MediaRef>();

  constructor(
    private readonly ctx: SessionContext,
    private readonly knobs: TelegramKnobs,
  ) {
    this.token = typeof ctx.settings.token === 'string' ? ctx.settings.token : '';
    this.api = makeApi(this.token, knobs.apiRoot);
  }

  /** The abort signal in grammY's (abort-controller) type. */
  private get signal(): Parameters<Api['getMe']>[0] {
    return this.abort.signal as unknown as Parameters<Api['getMe']>[0];
  }

  private get webhookMode(): boolean {
    return this.knobs.publicUrl !== undefined;
  }

  /** Where Telegram posts updates in webhook mode. */
  webhookUrl(): string {
    return `${this.knobs.publicUrl}/webhooks/telegram/${this.ctx.instanceId}`;
  }

  async start(): Promise<void> {
    if (!this.token) {
      await this.ctx.emit({ type: 'auth', auth_status: 'failed', reason: 'no bot token in the settings' });
      return;
    }
    this.state = 'connecting';
    // The first attempt runs inline, so a healthy bot is client_ready when start() returns.
    const ok = await this.connectOnce(1);
    if (ok === 'fatal' || this.isClosed()) return;
    this.loop = this.run(ok === 'ok').catch((err) =>
      this.ctx.logger.error({ err: scrub(err, this.token) }, 'telegram session loop crashed'),
    );
  }

  /** getMe plus webhook set-up (or removal, for polling). */
  private async connectOnce(attempt: number): Promise<'ok' | 'retry' | 'fatal'> {
    try {
      const me = await this.api.getMe(this.signal);
      this.botId = me.id;
      this.account = me.username ? `@${me.username}` : (this.account ?? null);
      if (this.webhookMode) {
        await this.api.setWebhook(
          this.webhookUrl(),
          {
            secret_token: webhookSecret(this.token, this.ctx.instanceId),
            allowed_updates: [...ALLOWED_UPDATES],
          },
          this.signal,
        );
      } else {
        await this.api.deleteWebhook({ drop_pending_updates: false }, this.signal);
      }
      if (this.isClosed()) return 'fatal';
      this.state = 'ready';
      await this.ctx.emit({ type: 'auth', auth_status: 'client_ready', account: this.account });
      return 'ok';
    } catch (err) {
      if (this.isClosed()) return 'fatal';
      return this.onFailure(err, attempt, 'connect');
    }
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Classifies a failed call: a revoked token ends the session; anything else is retried with backoff. */
  private async onFailure(err: unknown, attempt: number, phase: string): Promise<'retry' | 'fatal'> {
    const code = errorCode(err);
    const text = scrub(err, this.token);
    if (code === 401 || code === 404) {
      this.ctx.logger.warn({ phase, code }, 'telegram rejected the bot token');
      await this.ctx.emit({
        type: 'auth',
        auth_status: 'failed',
        reason: `bot token rejected by Telegram (${code})`,
      });
      return 'fatal';
    }
    if (code === 409) {
      // Another poller (or a webhook) holds this bot: report it once per streak and back off, never spin.
      if (attempt === 1) {
        this.ctx.logger.warn(
          { phase },
          'telegram 409 conflict: another getUpdates poller or webhook is active',
        );
        await this.ctx.emit({
          type: 'error',
          code: 'telegram_conflict',
          message:
            'Telegram answered 409 Conflict: another process polls this bot or a webhook is set; backing off',
        });
      }
      return 'retry';
    }
    this.ctx.logger.warn({ phase, attempt, err: text }, 'telegram call failed; will retry');
    if (attempt === 1 && this.state === 'ready') {
      this.state = 'connecting';
      await this.ctx.emit({ type: 'auth', auth_status: 'reconnecting', reason: text });
    } else if (attempt === 1 && phase === 'connect') {
      await this.ctx.emit({ type: 'error', code: 'telegram_unreachable', message: text });
    }
    return 'retry';
  }

  private delayFor(err: unknown, attempt: number): number {
    const after = retryAfter(err);
    if (after !== null) return Math.min(this.knobs.backoffMaxMs, after * 1000);
    return backoffDelay(attempt, this.knobs.backoffBaseMs, this.knobs.backoffMaxMs);
  }

  /** Connects (with backoff) until ready, then polls until stopped. Webhook mode stops after connecting. */
  private async run(connected: boolean): Promise<void> {
    let attempt = 1;
    while (!connected) {
      await this.knobs.sleep(
        backoffDelay(attempt, this.knobs.backoffBaseMs, this.knobs.backoffMaxMs),
        this.abort.signal,
      );
      if (this.isClosed()) return;
      attempt++;
      const r = await this.connectOnce(attempt);
      if (r === 'fatal') return;
      connected = r === 'ok';
    }
    if (this.webhookMode) return;
    await this.poll();
  }

  private async poll(): Promise<void> {
    let failures = 0;
    while (!this.isClosed()) {
      const started = Date.now();
      let updates: Update[];
      try {
        updates = await this.api.getUpdates(
          { offset: this.offset, timeout: this.knobs.pollTimeoutSec, allowed_updates: [...ALLOWED_UPDATES] },
          this.signal,
        );
      } catch (err) {
        if (this.isClosed()) return;
        failures++;
        const r = await this.onFailure(err, failures, 'poll');
        if (r === 'fatal') return;
        await this.knobs.sleep(this.delayFor(err, failures), this.abort.signal);
        continue;
      }
      if (failures > 0) {
        // Back from an outage (reported as reconnecting); a 409 streak never left client_ready.
        if (this.state === 'connecting') {
          this.state = 'ready';
          await this.ctx.emit({ type: 'auth', auth_status: 'client_ready', account: this.account });
        }
        failures = 0;
      }
      for (const u of updates) {
        if (this.isClosed()) return;
        await this.deliver(u);
        // Advance only after the update is stored: a crash before the next getUpdates redelivers, never loses.
        this.offset = u.update_id + 1;
      }
      const quick = Date.now() - started < 500;
      if (updates.length === 0 && quick)
        await this.knobs.sleep(this.knobs.emptyPollPauseMs, this.abort.signal);
    }
  }

  private async deliver(u: Update): Promise<void> {
    const msg = mapUpdate(u, this.botId, this.account);
    if (!msg) return;
    const fileId = msg.media?.file_id;
    if (typeof fileId === 'string') {
      this.mediaIndex.set(msg.message_id, {
        file_id: fileId,
        mimetype: (msg.media?.mimetype as string | null) ?? null,
        filename: (msg.media?.filename as string | null) ?? null,
      });
      if (this.mediaIndex.size > MEDIA_INDEX_MAX)
        this.mediaIndex.delete(this.mediaIndex.keys().next().value!);
    }
    await this.ctx.emit({ type: 'message', message: msg });
  }

  /** Downloads a received file through getFile (Bot API limit: 20 MB). */
  private async downloadMedia(payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = String(payload.message_id ?? '');
    const given = (payload.media ?? null) as Record<string, unknown> | null;
    const ref: MediaRef | undefined =
      typeof given?.file_id === 'string'
        ? {
            file_id: given.file_id,
            mimetype: (given.mimetype as string | null) ?? null,
            filename: (given.filename as string | null) ?? null,
          }
        : this.mediaIndex.get(id);
    if (!ref) throw new SbError('SB_ERR_MESSAGE_NOT_FOUND', `no Telegram file known for message ${id}`);
    if (this.state !== 'ready')
      throw new SbError('SB_ERR_NOT_CONNECTED', 'the telegram bot is not connected');
    try {
      const file = await this.api.getFile(ref.file_id);
      if (!file.file_path) throw new Error('getFile returned no file_path');
      const root = this.knobs.apiRoot ?? 'https://api.telegram.org';
      const res = await fetch(`${root}/file/bot${this.token}/${file.file_path}`, {
        signal: AbortSignal.timeout(60_000),
      });
      if (!res.ok) throw new Error(`file download answered ${res.status}`);
      const data = Buffer.from(await res.arrayBuffer());
      return {
        data,
        mimetype: ref.mimetype ?? 'application/octet-stream',
        filename: ref.filename ?? file.file_path.split('/').pop() ?? null,
      };
    } catch (err) {
      throw new SbError('SB_ERR_PROVIDER', `could not download the file: ${scrub(err, this.token)}`);
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.abort.abort();
    await this.loop;
  }

  /** A bot has no device login to end: logging out stops the session and removes our webhook. */
  async logout(): Promise<void> {
    const wasWebhook = this.webhookMode && this.state === 'ready';
    await this.stop();
    if (wasWebhook) {
      await this.api
        .deleteWebhook({ drop_pending_updates: false })
        .catch((err) =>
          this.ctx.logger.warn({ err: scrub(err, this.token) }, 'deleteWebhook at logout failed'),
        );
    }
  }

  private parseMode(): ParseMode | undefined {
    const p = this.ctx.settings.parse_mode;
    return PARSE_MODES.includes(p as ParseMode) ? (p as ParseMode) : undefined;
  }

  async send(msg: OutboundMessage): Promise<SendResult> {
    if (this.state !== 'ready')
      throw new SbError('SB_ERR_NOT_CONNECTED', 'the telegram bot is not connected');
    const replyId = msg.reply_to ? parseTelegramMessageId(msg.reply_to) : null;
    if (msg.reply_to && replyId === null) {
      throw new SbError(
        'SB_ERR_VALIDATION',
        'reply_to: expected a Telegram message id (<chat>:<id> or <id>)',
      );
    }
    const common = {
      ...(this.parseMode() ? { parse_mode: this.parseMode() } : {}),
      ...(replyId !== null
        ? { reply_parameters: { message_id: replyId, allow_sending_without_reply: true } }
        : {}),
    };
    try {
      const sent = msg.media
        ? await this.sendMedia(msg.to, msg.media, common)
        : await this.api.sendMessage(msg.to, msg.text ?? '', common);
      return {
        message_id: telegramMessageId(sent.chat.id, sent.message_id),
        timestamp: toIso(sent.date),
      };
    } catch (err) {
      if (err instanceof SbError) throw err;
      throw new Error(scrub(err, this.token));
    }
  }

  private async sendMedia(
    to: string,
    media: NonNullable<OutboundMessage['media']>,
    common: Record<string, unknown>,
  ): Promise<{ chat: { id: number }; message_id: number; date: number }> {
    let file: InputFile;
    if (media.url) {
      // Fetched here through the guard, never handed to the Bot API server (a local one would fetch it inside our network).
      if (!this.knobs.outbound) {
        throw new SbError('SB_ERR_UNSUPPORTED', 'media by URL is not available here; send it as base64');
      }
      const bytes = await this.knobs.outbound.download(media.url, { maxBytes: this.knobs.maxUploadBytes });
      file = new InputFile(bytes, media.filename ?? 'file');
    } else {
      const bytes = Buffer.from(media.base64 ?? '', 'base64');
      if (bytes.length === 0) throw new SbError('SB_ERR_VALIDATION', 'media.base64: empty or not base64');
      if (bytes.length > this.knobs.maxUploadBytes) {
        throw new SbError(
          'SB_ERR_PAYLOAD_TOO_LARGE',
          `media is larger than ${this.knobs.maxUploadBytes} bytes`,
        );
      }
      file = new InputFile(bytes, media.filename ?? 'file');
    }
    const other = { ...common, ...(media.caption ? { caption: media.caption } : {}) };
    const mime = (media.mimetype ?? '').toLowerCase();
    if (mime.startsWith('image/') && mime !== 'image/gif') return this.api.sendPhoto(to, file, other);
    if (mime.startsWith('video/')) return this.api.sendVideo(to, file, other);
    if (mime === 'audio/ogg' || mime === 'audio/opus') return this.api.sendVoice(to, file, other);
    if (mime.startsWith('audio/')) return this.api.sendAudio(to, file, other);
    return this.api.sendDocument(to, file, other);
  }

  async control(action: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (action) {
      case 'webhook': {
        if (!this.webhookMode)
          throw new SbError('SB_ERR_INVALID_STATE', 'this bot uses long polling, not a webhook');
        const expected = Buffer.from(webhookSecret(this.token, this.ctx.instanceId));
        const given = Buffer.from(typeof payload.secret === 'string' ? payload.secret : '');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          throw new SbError('SB_ERR_UNAUTHORIZED', 'bad or missing X-Telegram-Bot-Api-Secret-Token');
        }
        const update = payload.update as Update;
        if (!update || typeof update.update_id !== 'number') {
          throw new SbError('SB_ERR_VALIDATION', 'not a Telegram update');
        }
        await this.deliver(update);
        return { ok: true };
      }
      case 'download_media':
        return this.downloadMedia(payload);
      case 'typing':
      case 'chat_action': {
        if (this.state !== 'ready')
          throw new SbError('SB_ERR_NOT_CONNECTED', 'the telegram bot is not connected');
        const to = String(payload.to ?? payload.chat_id ?? '');
        const act = (payload.action ?? 'typing') as (typeof CHAT_ACTIONS)[number];
        if (!/^-?\d{1,20}$|^@\w{5,32}$/.test(to))
          throw new SbError('SB_ERR_VALIDATION', 'to: a Telegram chat id');
        if (!CHAT_ACTIONS.includes(act)) {
          throw new SbError('SB_ERR_VALIDATION', `action: one of ${CHAT_ACTIONS.join(', ')}`);
        }
        try {
          await this.api.sendChatAction(to, act);
        } catch (err) {
          throw new SbError('SB_ERR_PROVIDER', `sendChatAction failed: ${scrub(err, this.token)}`);
        }
        return { ok: true };
      }
      default:
        throw new SbError('SB_ERR_UNSUPPORTED', `the telegram provider has no action ${action}`);
    }
  }
}
