// Registration check for webhook/agent URLs (400 at PUT time); the connect-time guard is runtime/outbound.
import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { SbError } from '../../domain/errors.js';
import { isBlockedAddress } from '../../runtime/outbound/address-policy.js';
import { type Resolver, systemResolver } from '../../runtime/outbound/guarded-fetch.js';

export type { Resolver };
/** True when an IP address is loopback, private, link-local, multicast, reserved or a cloud metadata address. */
export { isBlockedAddress, systemResolver };

const refused = (url: string, reason: string) =>
  new SbError('SB_ERR_VALIDATION', `url refused: ${reason}`, {
    details: [{ path: 'url', message: reason, url }],
  });

/**
 * Checks a webhook or agent URL at registration: http(s) only, and (unless `allowPrivate`) every address the host
 * resolves to must be public. Throws SB_ERR_VALIDATION (400) otherwise.
 */
export async function assertAllowedUrl(
  raw: string,
  allowPrivate: boolean,
  resolve: Resolver = systemResolver,
): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused(raw, 'not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refused(raw, 'only http and https');
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    if (isBlockedAddress(host)) throw refused(raw, 'private, loopback or link-local address');
    return url;
  }
  let addrs: LookupAddress[];
  try {
    addrs = await resolve(host);
  } catch {
    throw refused(raw, `host ${host} does not resolve`);
  }
  if (!addrs.length || addrs.some((a) => isBlockedAddress(a.address))) {
    throw refused(raw, `host ${host} resolves to a private, loopback or link-local address`);
  }
  return url;
}
