// SSRF matrix: refused address ranges, registration checks, DNS rebinding at connect time, redirects not followed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, startReceiver } from '../../../test/e2e/webhook-receiver.js';
import { postRequest } from './http-post.js';
import { assertAllowedUrl, isBlockedAddress, type Resolver } from './ssrf.js';

const fakeDns =
  (table: Record<string, string>): Resolver =>
  async (host) => {
    const ip = table[host];
    if (!ip) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return [{ address: ip, family: ip.includes(':') ? 6 : 4 }];
  };

let rx: Receiver;
let target: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
  target = await startReceiver();
});
afterAll(async () => {
  await rx?.close();
  await target?.close();
});

describe('isBlockedAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['10.0.0.1', true],
    ['172.16.5.4', true],
    ['172.31.255.255', true],
    ['192.168.0.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['224.0.0.251', true],
    ['255.255.255.255', true],
    ['::1', true],
    ['::', true],
    ['fe80::1', true],
    ['fd00:ec2::254', true],
    ['ff02::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:10.0.0.1', true],
    ['not-an-ip', true],
    ['8.8.8.8', false],
    ['93.184.215.14', false],
    ['172.32.0.1', false],
    ['2606:4700:4700::1111', false],
    // Every spelling of loopback and the metadata address (issue 14).
    ['::ffff:0:7f00:1', true],
    ['2002:7f00:1::', true],
    ['2002:a9fe:a9fe::1', true],
    ['64:ff9b::7f00:1', true],
    ['64:ff9b::127.0.0.1', true],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', true],
    ['::127.0.0.1', true],
    ['2130706433', true],
    ['0177.0.0.1', true],
    ['0x7f.1', true],
    ['0xa9fea9fe', true],
    ['[::1]', true],
    ['fe80::1%eth0', true],
    ['3fff::1', true],
    ['2001:2::1', true],
    ['192.88.99.1', true],
    ['64:ff9b::808:808', false],
    ['2002:808:808::1', false],
  ])('%s → blocked=%s', (ip, blocked) => {
    expect(isBlockedAddress(ip)).toBe(blocked);
  });
});

describe('registration check', () => {
  const dns = fakeDns({
    'rebind.example': '127.0.0.1',
    'inner.example': '10.0.0.7',
    'meta.example': '169.254.169.254',
    'public.example': '93.184.215.14',
  });

  it.each([
    'http://127.0.0.1/h',
    'http://10.0.0.1/h',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:8080/h',
    'http://[fe80::1]/h',
    'http://rebind.example/h',
    'http://inner.example/h',
    'http://meta.example/h',
    'http://unknown.example/h',
    'ftp://public.example/h',
    'not a url',
  ])('refuses %s', async (url) => {
    await expect(assertAllowedUrl(url, false, dns)).rejects.toMatchObject({ code: 'SB_ERR_VALIDATION' });
  });

  it('refuses localhost through the real resolver and accepts public hosts', async () => {
    await expect(assertAllowedUrl('http://localhost:3000/x', false)).rejects.toMatchObject({
      code: 'SB_ERR_VALIDATION',
    });
    await expect(assertAllowedUrl('https://public.example/h', false, dns)).resolves.toBeInstanceOf(URL);
    await expect(assertAllowedUrl('http://127.0.0.1/h', true, dns)).resolves.toBeInstanceOf(URL);
  });
});

describe('connect-time guard', () => {
  it('refuses a host that resolves to loopback when connecting (DNS rebinding)', async () => {
    const dns = fakeDns({ 'rebind.example': '127.0.0.1' });
    const before = rx.requests.length;
    await expect(
      postRequest(
        `http://rebind.example:${rx.port}/h`,
        '{}',
        {},
        { timeoutMs: 2000, allowPrivate: false, resolve: dns },
      ),
    ).rejects.toMatchObject({ code: 'SB_ERR_URL_BLOCKED', status: 400 });
    await expect(
      postRequest(`${rx.url}/h`, '{}', {}, { timeoutMs: 2000, allowPrivate: false }),
    ).rejects.toMatchObject({ code: 'SB_ERR_URL_BLOCKED', status: 400 });
    expect(rx.requests.length).toBe(before);
    // Allowed for local development, through the same lookup path.
    const ok = await postRequest(
      `http://rebind.example:${rx.port}/h`,
      '{}',
      {},
      {
        timeoutMs: 2000,
        allowPrivate: true,
        resolve: dns,
      },
    );
    expect(ok.status).toBe(200);
  });

  it('does not follow a redirect to loopback', async () => {
    rx.respond = () => ({ status: 302, headers: { location: `${target.url}/stolen` } });
    const res = await postRequest(`${rx.url}/redirect`, '{}', {}, { timeoutMs: 2000, allowPrivate: true });
    expect(res.status).toBe(302);
    expect(target.requests).toHaveLength(0);
    rx.respond = () => ({ status: 200 });
  });

  it('times out a receiver that never answers', async () => {
    rx.respond = () => ({ status: 200 });
    const { createServer } = await import('node:http');
    const hang = createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const port = (hang.address() as { port: number }).port;
    await expect(
      postRequest(`http://127.0.0.1:${port}/`, '{}', {}, { timeoutMs: 200, allowPrivate: true }),
    ).rejects.toMatchObject({ code: 'SB_ERR_FETCH_FAILED', details: { reason: 'timed out' } });
    hang.closeAllConnections();
    await new Promise<void>((r) => hang.close(() => r()));
  });
});
