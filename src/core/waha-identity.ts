// WAHA identities Switchboard owns: an instance's WAHA session name and the per-instance webhook token WAHA echoes.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MetaRepo } from '../ports/store.js';

/** The header WAHA echoes (webhook `customHeaders`) so an unsigned webhook still proves it came from our config. */
export const WAHA_TOKEN_HEADER = 'x-switchboard-webhook-token';

const SESSION_RE = /^sb_([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/;

/** The WAHA session name of an instance, derived from its id (never chosen by a tenant). */
export function wahaSessionName(instanceId: string): string {
  return `sb_${instanceId.replace(/-/g, '').toLowerCase()}`;
}

/** The instance id a WAHA session name was derived from, or null when the name is not one of ours. */
export function instanceIdOfWahaSession(name: string): string | null {
  const m = SESSION_RE.exec(name);
  return m ? m.slice(1).join('-') : null;
}

/**
 * Per-instance webhook tokens: HMAC-SHA256 of the instance id under one random secret generated at first use and
 * kept in the database (`gateway_meta`), so every replica and every restart derives the same token. Tenants never
 * see it; only WAHA (in the session's webhook config) and this gateway know it.
 */
export class WahaWebhookTokens {
  private secret: Promise<string> | null = null;

  constructor(private readonly meta: Pick<MetaRepo, 'setIfAbsent'>) {}

  private key(): Promise<string> {
    this.secret ??= this.meta
      .setIfAbsent('waha_webhook_secret', randomBytes(32).toString('base64url'))
      .catch((err: unknown) => {
        this.secret = null;
        throw err;
      });
    return this.secret;
  }

  async forInstance(instanceId: string): Promise<string> {
    return createHmac('sha256', await this.key())
      .update(`waha-webhook:${instanceId.toLowerCase()}`)
      .digest('base64url');
  }

  /** True when `given` is the instance's token (constant-time comparison). */
  async verify(instanceId: string, given: string | undefined): Promise<boolean> {
    if (!given) return false;
    const expected = Buffer.from(await this.forInstance(instanceId));
    const got = Buffer.from(given.trim());
    return got.length === expected.length && timingSafeEqual(got, expected);
  }
}
