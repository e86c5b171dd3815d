// The telegram provider (grammY): bot token login checked with getMe, long polling or webhook, text and media.
import type { ProviderFactory } from '../../ports/provider.js';
import { prepareTelegramSettings } from './bot-api.js';
import { DEFAULT_TELEGRAM_KNOBS, type TelegramKnobs, TelegramSession } from './session.js';

export { webhookSecret } from './bot-api.js';
export type { TelegramKnobs };

/**
 * Creates the telegram provider. `apiRoot` points grammY at a local Bot API server; `publicUrl` switches the bots
 * from long polling to webhooks (`{publicUrl}/webhooks/telegram/{instanceId}`, secret token verified).
 */
export function createTelegramProvider(knobs: Partial<TelegramKnobs> = {}): ProviderFactory {
  const k: TelegramKnobs = { ...DEFAULT_TELEGRAM_KNOBS, ...knobs };
  return {
    name: 'telegram',
    capabilities: new Set(['token', 'media', 'typing']),
    addressing: 'chat_id',
    secretSettings: ['token'],
    prepare: (settings) => prepareTelegramSettings(settings, k.apiRoot),
    createSession: (ctx) => new TelegramSession(ctx, k),
  };
}
