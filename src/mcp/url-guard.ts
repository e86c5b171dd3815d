// Media URL guard for agent-supplied URLs: only http(s) to public addresses (no file://, no private networks).
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { SbError } from '../domain/errors.js';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** True for loopback, private, link-local, CGNAT, documentation, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 4) return blocked.check(address, 'ipv4');
  if (v === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return blocked.check(mapped[1]!, 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true;
}

const refuse = (message: string) =>
  new SbError('SB_ERR_VALIDATION', message, { details: [{ path: 'url', message }] });

/** The resolver used by assertPublicUrl (replaceable in tests). */
export type Resolver = (host: string) => Promise<string[]>;

const dnsResolver: Resolver = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

/**
 * Refuses URLs that are not http(s), carry credentials, or name/resolve to a private address. The message never
 * repeats the URL (it may be internal).
 */
export async function assertPublicUrl(raw: string, resolve: Resolver = dnsResolver): Promise<URL> {
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
