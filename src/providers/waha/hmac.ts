// WAHA webhook signatures: X-Webhook-Hmac is the hex HMAC-SHA512 of the raw body with the configured key.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Signs a webhook body the way WAHA does (hex HMAC-SHA512). */
export function signWahaBody(body: Buffer | string, key: string): string {
  return createHmac('sha512', key).update(body).digest('hex');
}

/** True when `signature` is WAHA's HMAC of `body` under `key` (constant-time comparison). */
export function verifyWahaHmac(body: Buffer | string, signature: string | undefined, key: string): boolean {
  if (!signature) return false;
  const expected = Buffer.from(signWahaBody(body, key), 'hex');
  const given = Buffer.from(signature.trim().toLowerCase(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
