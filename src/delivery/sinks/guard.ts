// The outbound address policy for broker URLs: checked at registration (400) and again on every connect (lookup).
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { SbError } from '../../domain/errors.js';
import { blockedReason } from '../../runtime/outbound/address-policy.js';
import {
  guardedLookup,
  type Resolver,
  systemResolver,
  urlBlocked,
} from '../../runtime/outbound/guarded-fetch.js';

export type { Resolver };

/** How a sink connects: the operator's opt-out and the resolver (tests inject one). */
export interface BrokerGuard {
  allowPrivate: boolean;
  resolve?: Resolver;
}

/**
 * The host of a broker URL as the special-scheme URL parser reads it: `amqp:`/`nats:` URLs are opaque to the WHATWG
 * parser, so `0x7f.1` or `2130706433` would stay unnormalised; through `http:` every IPv4 spelling becomes dotted.
 */
export function brokerHost(raw: string): string {
  const host = new URL(raw).hostname;
  try {
    return new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return host.replace(/^\[|\]$/g, '');
  }
}

const refused = (path: string, reason: string) =>
  new SbError('SB_ERR_VALIDATION', `${path} refused: ${reason}`, { details: [{ path, message: reason }] });

/**
 * Checks broker URLs at registration: unless `allowPrivate`, every address each host resolves to must be public
 * (the same policy as webhooks). Throws SB_ERR_VALIDATION (400).
 */
export async function assertAllowedBroker(
  urls: readonly string[],
  path: string,
  g: BrokerGuard,
): Promise<void> {
  if (g.allowPrivate) return;
  const resolve = g.resolve ?? systemResolver;
  for (const raw of urls) {
    const host = brokerHost(raw);
    if (isIP(host)) {
      if (blockedReason(host)) throw refused(path, 'private, loopback or link-local address');
      continue;
    }
    let addrs: Awaited<ReturnType<Resolver>>;
    try {
      addrs = await resolve(host);
    } catch {
      throw refused(path, `host ${host} does not resolve`);
    }
    if (!addrs.length || addrs.some((a) => blockedReason(a.address))) {
      throw refused(path, `host ${host} resolves to a private, loopback or link-local address`);
    }
  }
}

/**
 * What a socket connect needs to keep the policy at connect time: a `lookup` that refuses blocked addresses (host
 * names), and a check for IP literals (which never go through a lookup). Throws SB_ERR_URL_BLOCKED.
 */
export function connectGuard(host: string, g: BrokerGuard): { lookup?: LookupFunction } {
  if (g.allowPrivate) return {};
  const bare = brokerHost(`tcp://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}`);
  if (isIP(bare)) {
    const why = blockedReason(bare);
    if (why) throw urlBlocked(why);
    return {};
  }
  return { lookup: guardedLookup(g.resolve ?? systemResolver, blockedReason) };
}
