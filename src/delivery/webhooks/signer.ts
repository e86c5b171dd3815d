// Standard Webhooks signing: `whsec_` secrets and `v1,<base64 HMAC-SHA256 of id.timestamp.body>` signatures.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (the Standard Webhooks format). */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The three Standard Webhooks headers for one request. With `secrets` of length 2 (rotation overlap), both
 * signatures are sent, space-separated, so receivers holding either secret verify.
 */
export function signedHeaders(
  secrets: readonly string[],
  msgId: string,
  at: Date,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const signature = secrets.map((s) => new Webhook(s).sign(msgId, at, body)).join(' ');
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}
