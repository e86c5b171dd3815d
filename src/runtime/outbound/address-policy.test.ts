// The outbound address policy: every IANA special-purpose range and every spelling of an internal address.
import { describe, expect, it } from 'vitest';
import { blockedReason, isBlockedAddress, normalizeIPv4, parseIPv6 } from './address-policy.js';

describe('address policy', () => {
  it.each([
    // IPv4 special-purpose ranges
    ['0.0.0.0', 'this network'],
    ['10.20.30.40', 'private'],
    ['100.64.0.1', 'shared address space (CGNAT)'],
    ['100.127.255.254', 'shared address space (CGNAT)'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.0.0.170', 'IETF protocol assignments'],
    ['192.0.2.1', 'documentation'],
    ['192.88.99.1', '6to4 relay anycast (deprecated)'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.9', 'documentation'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved and broadcast'],
    ['255.255.255.255', 'reserved and broadcast'],
    // IPv4 spellings the URL parser accepts
    ['2130706433', 'loopback'],
    ['0177.0.0.1', 'loopback'],
    ['0x7f.1', 'loopback'],
    ['0x7f000001', 'loopback'],
    ['127.1', 'loopback'],
    ['0xa9fea9fe', 'link-local (cloud metadata)'],
    ['2852039166', 'link-local (cloud metadata)'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:0:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local (cloud metadata)'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a9fe:a9fe::1', 'link-local (cloud metadata)'],
    ['2002:c0a8:101::', 'private'],
    ['::127.0.0.1', 'not global unicast (IPv6 outside 2000::/3)'],
    ['64:ff9b:1::1', 'not global unicast (IPv6 outside 2000::/3)'],
    ['100::1', 'not global unicast (IPv6 outside 2000::/3)'],
    ['fc00::1', 'not global unicast (IPv6 outside 2000::/3)'],
    ['fd00:ec2::254', 'not global unicast (IPv6 outside 2000::/3)'],
    ['fe80::1', 'not global unicast (IPv6 outside 2000::/3)'],
    ['fe80::1%eth0', 'not global unicast (IPv6 outside 2000::/3)'],
    ['fec0::1', 'not global unicast (IPv6 outside 2000::/3)'],
    ['ff02::1', 'not global unicast (IPv6 outside 2000::/3)'],
    ['5f00::1', 'not global unicast (IPv6 outside 2000::/3)'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'],
    ['2001:2::1', 'IETF protocol assignments (Teredo, benchmarking, ORCHID)'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    // not an address at all: refused
    ['localhost', 'not an IP address'],
    ['', 'not an IP address'],
  ])('%s is refused (%s)', (ip, why) => {
    expect(blockedReason(ip)).toBe(why);
    expect(isBlockedAddress(ip)).toBe(true);
  });

  it.each([
    '8.8.8.8',
    '93.184.215.14',
    '172.32.0.1',
    '100.128.0.1',
    '192.0.3.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ])('%s is allowed', (ip) => {
    expect(blockedReason(ip)).toBeNull();
  });

  it('parses IPv6 and IPv4 spellings', () => {
    expect([...parseIPv6('::ffff:1.2.3.4')!]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4]);
    expect([...parseIPv6('2002:7f00:1::')!.subarray(0, 6)]).toEqual([0x20, 0x02, 0x7f, 0, 0, 1]);
    expect(parseIPv6('1.2.3.4')).toBeNull();
    expect(normalizeIPv4('0x7f.1')).toBe('127.0.0.1');
    expect(normalizeIPv4('example.com')).toBeNull();
  });
});
