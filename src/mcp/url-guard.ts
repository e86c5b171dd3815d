// Early media URL check for agent-supplied URLs (before an approval is stored); the fetch itself is runtime/outbound.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SbError } from '../domain/errors.js';
import { isBlockedAddress } from '../runtime/outbound/address-policy.js';

/** True for loopback, private, link-local, CGNAT, documentation, multicast and reserved addresses. */
export const isPrivateAddress = isBlockedAddress;

const refuse = (message: string) =>
  new SbError('SB_ERR_VALIDATION', message, { details: [{ path: 'url', message }] });

/** The resolver used by assertPublicUrl (replaceable in tests). */
export type Resolver = (host: string) => Promise<string[]>;

const dnsResolver: Resolver = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/**
 * Refuses URLs that are not http(s), carry credentials, or name/resolve to a private address. The message never
 * repeats the URL (it may be internal). `allowPrivate` is the operator's opt-out (OUTBOUND_ALLOW_PRIVATE).
 */
export async function assertPublicUrl(
  raw: string,
  resolve: Resolver = dnsResolver,
  allowPrivate = false,
): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('url: not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refuse(`url: only http and https URLs are accepted (got ${url.protocol.replace(/:$/, '')})`);
  }
  if (url.username || url.password) throw refuse('url: URLs with credentials are refused');
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal')) {
    throw refuse('url: private-network URLs are refused');
  }
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
    } catch {
      throw refuse('url: the host name does not resolve');
    }
  }
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
    throw refuse('url: private-network URLs are refused');
  }
  return url;
}
