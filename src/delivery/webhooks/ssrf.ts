// SSRF guard: refuses webhook/agent URLs that resolve to loopback, private, link-local, multicast or metadata hosts.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { SbError } from '../../domain/errors.js';

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
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** True when an IP address is loopback, private, link-local, multicast, reserved or a cloud metadata address. */
export function isBlockedAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '').split('%')[0];
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return isBlockedAddress(mapped[1]);
  const family = isIP(bare);
  if (family === 4) return blocked.check(bare, 'ipv4');
  if (family === 6) {
    // IPv4-mapped addresses in hex form (::ffff:7f00:1).
    const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(bare);
    if (hex) {
      const n = (Number.parseInt(hex[1], 16) << 16) | Number.parseInt(hex[2], 16);
      return isBlockedAddress([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'));
    }
    return blocked.check(bare, 'ipv6');
  }
  return true;
}

/** Resolves a host name to all its addresses (injectable for tests). */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))),
  );

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

/** Thrown at connect time when a host resolves to a refused address (DNS rebinding). */
export class SsrfBlockedError extends Error {
  constructor(host: string, address: string) {
    super(`refused to connect to ${host}: ${address} is a private, loopback or link-local address`);
    this.name = 'SsrfBlockedError';
  }
}

/**
 * A `net` lookup function that checks the addresses it returns, so the address checked is the address connected to
 * (a host that changes its DNS answer after registration is still refused).
 */
export function guardedLookup(allowPrivate: boolean, resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addrs) => {
        const family = typeof options === 'object' ? options.family : undefined;
        const usable = addrs.filter((a) => !family || family === 0 || a.family === family);
        if (!usable.length) {
          callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
          return;
        }
        const bad = allowPrivate ? undefined : usable.find((a) => isBlockedAddress(a.address));
        if (bad) {
          callback(new SsrfBlockedError(hostname, bad.address) as NodeJS.ErrnoException, '', 0);
          return;
        }
        if (typeof options === 'object' && options.all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        } else callback(null, usable[0].address, usable[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}
