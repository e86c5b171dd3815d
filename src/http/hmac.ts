// HMAC signature checks for inbound webhooks (hex digests compared in constant time).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** True when `signature` is the hex HMAC of `body` under `key` with `algorithm` (e.g. WAHA: sha512). */
export function verifyHexHmac(
  body: Buffer | string,
  signature: string | undefined,
  key: string,
  algorithm: 'sha256' | 'sha512',
): boolean {
  if (!signature) return false;
  const expected = createHmac(algorithm, key).update(body).digest();
  const given = Buffer.from(signature.trim().toLowerCase(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
