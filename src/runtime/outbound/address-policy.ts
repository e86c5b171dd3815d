// Outbound address policy: which IPs a user-given URL may reach (IANA special-purpose ranges; embedded IPv4 unwrapped).
//
// Written by hand because no direct dependency does it: node's BlockList matches subnets but does not unwrap IPv4
// embedded in NAT64 or 6to4 addresses, nor parse the legacy IPv4 spellings; ipaddr.js is only a transitive
// dependency here (proxy-addr), so it is not ours to import.
import { BlockList, isIP } from 'node:net';

/** IPv4 ranges that are not globally reachable (IANA IPv4 Special-Purpose Address Registry, plus 6to4 relays). */
const V4_BLOCKED: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared address space (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay anycast (deprecated)'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved and broadcast'],
];

/**
 * IPv6 ranges refused inside global unicast (2000::/3). Everything outside 2000::/3 is refused anyway (loopback,
 * unspecified, IPv4-compatible, ULA fc00::/7, link-local fe80::/10, site-local, multicast ff00::/8, discard 100::/64,
 * SRv6 5f00::/16, 64:ff9b:1::/48), except the IPv4-mapped and NAT64 prefixes, whose embedded IPv4 is checked.
 */
const V6_BLOCKED: Array<[string, number, string]> = [
  ['2001::', 23, 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'],
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
];

/** One BlockList per range, so a refusal can say which range matched. */
const compile = (ranges: Array<[string, number, string]>, family: 'ipv4' | 'ipv6') =>
  ranges.map(([net, prefix, why]) => {
    const list = new BlockList();
    list.addSubnet(net, prefix, family);
    return { list, why };
  });
const V4 = compile(V4_BLOCKED, 'ipv4');
const V6 = compile(V6_BLOCKED, 'ipv6');

/** The 16 bytes of an IPv6 address (zone id and brackets removed), or null if it is not one. */
export function parseIPv6(raw: string): Uint8Array | null {
  const ip = raw.replace(/^\[|\]$/g, '').split('%')[0];
  if (isIP(ip) !== 6) return null;
  let text = ip;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const q = tail[1].split('.').map(Number);
    text = `${text.slice(0, -tail[1].length)}${((q[0] << 8) | q[1]).toString(16)}:${((q[2] << 8) | q[3]).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest === undefined ? [] : rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 255;
  });
  return out;
}

/**
 * The dotted IPv4 form of a host written in any spelling the WHATWG URL parser accepts (decimal `2130706433`,
 * octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`), or null when it is not an IPv4 address.
 */
export function normalizeIPv4(raw: string): string | null {
  if (isIP(raw) === 4) return raw;
  if (!/^[0-9a-fx.]+$/i.test(raw)) return null;
  try {
    const host = new URL(`http://${raw}/`).hostname;
    return isIP(host) === 4 ? host : null;
  } catch {
    return null;
  }
}

const dotted = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const zero = (b: Uint8Array, from: number, to: number) => b.subarray(from, to).every((x) => x === 0);

/**
 * Why an address may not be reached, or null when it is a globally reachable unicast address. Anything that is not
 * an IP address at all is refused (fail closed).
 */
export function blockedReason(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0];
  const four = normalizeIPv4(bare);
  if (four) {
    return V4.find((r) => r.list.check(four, 'ipv4'))?.why ?? null;
  }
  const b = parseIPv6(bare);
  if (!b) return 'not an IP address';
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated), 64:ff9b::a.b.c.d (NAT64): the embedded IPv4 decides.
  const mapped = zero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff;
  const translated = zero(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && b[10] === 0 && b[11] === 0;
  const nat64 = b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(b, 4, 12);
  if (mapped || translated || nat64) return blockedReason(dotted(b, 12));
  // 2002:a.b.c.d::/48 (6to4): the embedded IPv4 decides.
  if (b[0] === 0x20 && b[1] === 0x02) return blockedReason(dotted(b, 2));
  if ((b[0] & 0xe0) !== 0x20) {
    if (zero(b, 0, 15) && b[15] <= 1) return b[15] === 1 ? 'loopback' : 'unspecified';
    return 'not global unicast (IPv6 outside 2000::/3)';
  }
  return V6.find((r) => r.list.check(bare, 'ipv6'))?.why ?? null;
}

/** True when an address is loopback, private, link-local, reserved, multicast or not an IP address. */
export function isBlockedAddress(address: string): boolean {
  return blockedReason(address) !== null;
}
