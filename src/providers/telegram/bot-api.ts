// Bot API access for the telegram provider: grammY's Api client, token checks and token-free error text.
import { createHash, createHmac } from 'node:crypto';
import { Api, GrammyError, HttpError } from 'grammy';
import { SbError } from '../../domain/errors.js';

/** A bot token as BotFather issues it: `<bot id>:<secret>`. */
export const TOKEN_RE = /^\d{1,20}:[A-Za-z0-9_-]{20,100}$/;

export const PARSE_MODES = ['HTML', 'MarkdownV2', 'Markdown'] as const;
export type ParseMode = (typeof PARSE_MODES)[number];

/** A grammY API client for one bot; `apiRoot` points it at a local Bot API server or an emulator. */
export function makeApi(token: string, apiRoot: string | undefined): Api {
  return new Api(token, {
    ...(apiRoot ? { apiRoot } : {}),
    // Never let grammY put the token into error messages.
    sensitiveLogs: false,
  });
}

/** Error text with the token removed (fetch errors may carry the request URL, which contains it). */
export function scrub(err: unknown, token: string): string {
  let text: string;
  if (err instanceof GrammyError) text = `${err.method}: ${err.error_code} ${err.description}`;
  else if (err instanceof HttpError)
    text = `${err.message} (${String((err.error as Error)?.message ?? err.error)})`;
  else text = err instanceof Error ? err.message : String(err);
  return token ? text.split(token).join('[redacted]') : text;
}

/** Telegram's error code of a failed call (401 bad token, 409 conflict, 429 flood…), or null for network errors. */
export function errorCode(err: unknown): number | null {
  return err instanceof GrammyError ? err.error_code : null;
}

/** Seconds Telegram asked us to wait (429 `retry_after`), or null. */
export function retryAfter(err: unknown): number | null {
  return err instanceof GrammyError && typeof err.parameters?.retry_after === 'number'
    ? err.parameters.retry_after
    : null;
}

/**
 * The `secret_token` Telegram sends back on each webhook call for this instance: derived from the bot token, so
 * nothing extra is stored, and one-way, so it reveals nothing about the token. 64 chars of [0-9a-f].
 */
export function webhookSecret(token: string, instanceId: string): string {
  const key = createHash('sha256').update(token).digest();
  return createHmac('sha256', key).update(`switchboard-telegram-webhook:${instanceId}`).digest('hex');
}

/**
 * Checks settings at instance creation: a well-formed token that `getMe` accepts. Returns the settings to store
 * (token, bot id, username, parse mode) and the account `@username`.
 * Bad token → 400 SB_ERR_PROVIDER_REJECTED; Bot API unreachable → 502 SB_ERR_PROVIDER.
 */
export async function prepareTelegramSettings(
  settings: Record<string, unknown>,
  apiRoot: string | undefined,
): Promise<{ settings: Record<string, unknown>; account: string }> {
  const token = typeof settings.token === 'string' ? settings.token.trim() : '';
  if (!token) {
    throw new SbError('SB_ERR_VALIDATION', 'token: a Telegram bot token is required for provider telegram', {
      details: [{ path: 'token', message: 'required' }],
    });
  }
  if (!TOKEN_RE.test(token)) {
    throw new SbError(
      'SB_ERR_PROVIDER_REJECTED',
      'token: not a Telegram bot token (expected <bot id>:<secret>)',
      {
        details: [{ path: 'token', message: 'malformed bot token' }],
      },
    );
  }
  const parseMode = settings.parse_mode;
  if (parseMode !== undefined && parseMode !== null && !PARSE_MODES.includes(parseMode as ParseMode)) {
    throw new SbError('SB_ERR_VALIDATION', `settings.parse_mode: expected one of ${PARSE_MODES.join(', ')}`, {
      details: [{ path: 'settings.parse_mode', message: 'invalid parse mode' }],
    });
  }
  let me: Awaited<ReturnType<Api['getMe']>>;
  try {
    me = await makeApi(token, apiRoot).getMe();
  } catch (err) {
    const code = errorCode(err);
    if (code === 401 || code === 404) {
      throw new SbError('SB_ERR_PROVIDER_REJECTED', `Telegram rejected the bot token (${code} from getMe)`, {
        details: [{ path: 'token', message: 'rejected by Telegram' }],
      });
    }
    throw new SbError('SB_ERR_PROVIDER', `could not check the bot token with Telegram: ${scrub(err, token)}`);
  }
  if (!me.username) {
    throw new SbError('SB_ERR_PROVIDER_REJECTED', 'getMe returned no username: is this a bot token?');
  }
  return {
    settings: { ...settings, token, bot_id: me.id, bot_username: me.username },
    account: `@${me.username}`,
  };
}
