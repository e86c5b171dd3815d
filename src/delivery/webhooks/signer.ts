// Standard Webhooks signing: `whsec_` secrets and `v1,<base64 HMAC-SHA256 of id.timestamp.body>` signatures.
// The secret is read by the standardwebhooks library (the same validation and errors as before); the HMAC itself is
// node:crypto's, because the library computes SHA-256 in JavaScript (fast-sha256), several times slower per
// delivery. signer.test.ts checks every signature against the library's own `sign` and `verify`.
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** Decoded signing keys by secret (a bounded cache: a process signs for a limited set of endpoints). */
const keys = new Map<string, Buffer>();
const MAX_KEYS = 10_000;

function keyOf(secret: string): Buffer {
  let key = keys.get(secret);
  if (!key) {
    // The library's constructor refuses a secret it could not sign with; it throws here as it did when signing.
    new Webhook(secret);
    key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

/** One Standard Webhooks signature (`v1,<base64>`), as `new Webhook(secret).sign(msgId, at, body)` makes it. */
export function sign(secret: string, msgId: string, at: Date, body: string): string {
  const ts = Math.floor(at.getTime() / 1000);
  return `v1,${createHmac('sha256', keyOf(secret)).update(`${msgId}.${ts}.${body}`).digest('base64')}`;
}

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
  const signature = secrets.map((s) => sign(s, msgId, at, body)).join(' ');
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}
