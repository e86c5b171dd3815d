// The waha provider: WhatsApp through a WAHA server (HTTP API out, webhooks in), used by the warm pool.
import type { ProviderFactory } from '../../ports/provider.js';
import { WahaClient } from './client.js';
import { type WahaKnobs, WahaSession } from './session.js';

export { verifyWahaHmac } from './hmac.js';
export { wahaSessionName } from './session.js';

export interface WahaProviderOptions extends Partial<WahaKnobs> {
  /** WAHA base URL (WAHA_URL). */
  url: string;
  /** Sent as X-Api-Key (WAHA_API_KEY). */
  apiKey?: string;
}

/**
 * Creates the waha provider. Sessions are created in WAHA with a webhook to
 * `{webhookBase}/webhooks/waha/{instanceId}`, signed with `hmacKey` when set, otherwise carrying the
 * instance's `webhookToken` in a custom header.
 */
export function createWahaProvider(opts: WahaProviderOptions): ProviderFactory {
  const client = new WahaClient(opts.url.replace(/\/+$/, ''), opts.apiKey);
  const knobs: WahaKnobs = {
    webhookBase: (opts.webhookBase ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''),
    hmacKey: opts.hmacKey,
    webhookToken: opts.webhookToken,
    qrPollMs: opts.qrPollMs ?? 10_000,
    maxMediaBytes: opts.maxMediaBytes ?? 16 * 1024 * 1024,
    outbound: opts.outbound,
  };
  return {
    name: 'waha',
    capabilities: new Set(['qr', 'media']),
    addressing: 'phone',
    createSession: (ctx) => new WahaSession(ctx, client, knobs),
  };
}
