// The guarded fetch against real loopback servers: a canary that must stay silent, redirects, size and time limits.

import type { LookupAddress } from 'node:dns';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blockedReason } from './address-policy.js';
import { createGuardedFetch, guardedLookup, type Resolver } from './guarded-fetch.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(host: string, handler: () => Handler): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => handler()(req, res));
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

/** The canary (127.0.0.1) must never be asked anything while the guard is on. */
let canary: { server: Server; port: number };
let hits: string[] = [];
/** The "public" test server: 127.0.0.2, which only these tests' policy lets through. */
let allowed: { server: Server; port: number };
let allowedHandler: Handler = (_req, res) => res.end('ok');
let seenAuth: Array<string | undefined> = [];

/** Our test policy: the real IANA policy, except the one loopback address standing in for a public host. */
const testPolicy = (address: string) => (address === '127.0.0.2' ? null : blockedReason(address));

const dns =
  (table: Record<string, string[]>): Resolver =>
  async (host) => {
    const ips = table[host];
    if (!ips) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return ips.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

beforeAll(async () => {
  canary = await serve('127.0.0.1', () => (req, res) => {
    hits.push(req.url ?? '');
    res.end('canary internal secret');
  });
  allowed = await serve('127.0.0.2', () => (req, res) => {
    seenAuth.push(req.headers.authorization);
    allowedHandler(req, res);
  });
});
afterAll(async () => {
  for (const s of [canary?.server, allowed?.server]) {
    s?.closeAllConnections();
    await new Promise((r) => s?.close(r));
  }
});
beforeEach(() => {
  hits = [];
  seenAuth = [];
  allowedHandler = (_req, res) => res.end('ok');
});

const TABLE: Record<string, string[]> = {
  'public.test': ['127.0.0.2'],
  'canary.test': ['127.0.0.1'],
  'mixed.test': ['127.0.0.2', '127.0.0.1'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'metadata.test': ['169.254.169.254'],
  'sixtofour.test': ['2002:7f00:1::'],
  'nat64.test': ['64:ff9b::7f00:1'],
  'teredo.test': ['2001:0:4136:e378:8000:63bf:3fff:fdd2'],
  localhost: ['127.0.0.1', '::1'],
};
const resolver = () => dns(TABLE);
const guarded = (o: { allowPrivate?: boolean; maxRedirects?: number } = {}) =>
  createGuardedFetch({
    allowPrivate: o.allowPrivate ?? false,
    resolve: resolver(),
    blocked: testPolicy,
    timeoutMs: 3000,
    maxRedirects: o.maxRedirects,
  });

const spellings = () => {
  const p = canary.port;
  return [
    `http://127.0.0.1:${p}/a`,
    `http://2130706433:${p}/a`,
    `http://0177.0.0.1:${p}/a`,
    `http://0x7f.1:${p}/a`,
    `http://0x7f000001:${p}/a`,
    `http://127.1:${p}/a`,
    `http://[::1]:${p}/a`,
    `http://[::ffff:127.0.0.1]:${p}/a`,
    `http://[::ffff:7f00:1]:${p}/a`,
    `http://[::ffff:0:7f00:1]:${p}/a`,
    `http://[2002:7f00:1::]:${p}/a`,
    `http://[64:ff9b::7f00:1]:${p}/a`,
    `http://[::127.0.0.1]:${p}/a`,
    `http://localhost:${p}/a`,
    `http://canary.test:${p}/a`,
    `http://mixed.test:${p}/a`,
    `http://mapped.test:${p}/a`,
    `http://sixtofour.test:${p}/a`,
    `http://nat64.test:${p}/a`,
    `http://teredo.test:${p}/a`,
    `http://metadata.test:${p}/a`,
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://0xa9fea9fe/latest/meta-data/',
  ];
};

describe('guarded fetch: addresses', () => {
  it('refuses every spelling of loopback and metadata, and the canary hears nothing', async () => {
    const f = guarded();
    for (const url of spellings()) {
      await expect(f.request(url), url).rejects.toMatchObject({ code: 'SB_ERR_URL_BLOCKED', status: 400 });
      await expect(f.download(url, { maxBytes: 1000 }), url).rejects.toMatchObject({
        code: 'SB_ERR_URL_BLOCKED',
      });
      await expect(f.check(url), url).rejects.toMatchObject({ code: 'SB_ERR_URL_BLOCKED' });
      await expect(f.request(url, { method: 'POST', body: '{}' }), url).rejects.toMatchObject({
        code: 'SB_ERR_URL_BLOCKED',
      });
    }
    expect(hits).toEqual([]);
  });

  it('refuses other schemes without connecting', async () => {
    for (const url of ['file:///etc/passwd', 'gopher://127.0.0.2/', 'ftp://public.test/a']) {
      await expect(guarded().request(url), url).rejects.toMatchObject({ code: 'SB_ERR_URL_BLOCKED' });
    }
  });

  it('lets an allowed address through (the stand-in public server answers)', async () => {
    const res = await guarded().request(`http://public.test:${allowed.port}/x`);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok');
  });

  it('with the operator opt-out, loopback is reached through the same code', async () => {
    const f = guarded({ allowPrivate: true });
    expect((await f.download(`http://localhost:${canary.port}/opt-out`, { maxBytes: 1000 })).toString()).toBe(
      'canary internal secret',
    );
    expect(hits).toEqual(['/opt-out']);
  });
});

describe('guarded lookup with an injected resolver (nothing connects)', () => {
  const lookupOnce = (resolve: Resolver, host: string, all: boolean) =>
    new Promise<{ err: Error | null; result: unknown }>((done) => {
      guardedLookup(resolve, blockedReason)(host, { all }, ((err: Error | null, a: unknown, fam?: number) =>
        done({ err, result: all ? a : { a, fam } })) as never);
    });

  it('passes public IPv4 and IPv6 answers through, refuses any private one', async () => {
    const r = dns({
      'v4.example': ['93.184.215.14'],
      'v6.example': ['2606:4700:4700::1111'],
      'both.example': ['93.184.215.14', '10.0.0.1'],
    });
    expect(await lookupOnce(r, 'v4.example', false)).toEqual({
      err: null,
      result: { a: '93.184.215.14', fam: 4 },
    });
    const all = await lookupOnce(r, 'v6.example', true);
    expect(all.err).toBeNull();
    expect(all.result as LookupAddress[]).toEqual([{ address: '2606:4700:4700::1111', family: 6 }]);
    const mixed = await lookupOnce(r, 'both.example', true);
    expect(mixed.err?.message).toBe('refused address');
  });

  it('check() accepts a host whose every address is public', async () => {
    const f = createGuardedFetch({ allowPrivate: false, resolve: dns({ 'cdn.example': ['93.184.215.14'] }) });
    await expect(f.check('https://cdn.example/a.png')).resolves.toBeInstanceOf(URL);
    await expect(f.check('https://93.184.215.14/a.png')).resolves.toBeInstanceOf(URL);
  });
});

describe('guarded fetch: redirects', () => {
  it('re-checks every redirect: to the canary in any spelling is refused', async () => {
    for (const target of spellings()) {
      allowedHandler = (_req, res) => res.writeHead(302, { location: target }).end();
      await expect(
        guarded().download(`http://public.test:${allowed.port}/r`, { maxBytes: 1000 }),
        target,
      ).rejects.toMatchObject({ code: 'SB_ERR_URL_BLOCKED' });
    }
    expect(hits).toEqual([]);
  });

  it('follows allowed redirects up to the limit, then fails with SB_ERR_FETCH_FAILED', async () => {
    allowedHandler = (req, res) => {
      const n = Number(req.url?.slice(1) || 0);
      if (n < 5) res.writeHead(302, { location: `/${n + 1}` }).end();
      else res.end(`landed ${n}`);
    };
    const base = `http://public.test:${allowed.port}`;
    expect((await guarded({ maxRedirects: 5 }).download(`${base}/0`, { maxBytes: 100 })).toString()).toBe(
      'landed 5',
    );
    await expect(guarded({ maxRedirects: 2 }).download(`${base}/0`, { maxBytes: 100 })).rejects.toMatchObject(
      {
        code: 'SB_ERR_FETCH_FAILED',
        status: 502,
        details: { reason: 'too many redirects' },
      },
    );
  });

  it('never follows a redirect for a POST (the 3xx comes back as it is)', async () => {
    allowedHandler = (_req, res) =>
      res.writeHead(307, { location: `http://127.0.0.1:${canary.port}/` }).end();
    const res = await guarded().request(`http://public.test:${allowed.port}/`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(307);
    expect(hits).toEqual([]);
  });

  it('drops credentials when a redirect changes origin', async () => {
    allowedHandler = (req, res) => {
      if (req.url === '/start')
        res.writeHead(302, { location: `http://127.0.0.2:${allowed.port}/end` }).end();
      else res.end('end');
    };
    await guarded().request(`http://public.test:${allowed.port}/start`, {
      headers: { authorization: 'Bearer s' },
    });
    expect(seenAuth).toEqual(['Bearer s', undefined]);
  });
});

describe('guarded fetch: limits and error texts', () => {
  it('refuses a body over maxBytes, declared or streamed', async () => {
    allowedHandler = (req, res) => {
      if (req.url === '/declared') res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000));
      else {
        res.write('x'.repeat(3000));
        res.end('y'.repeat(3000));
      }
    };
    for (const path of ['/declared', '/chunked']) {
      await expect(
        guarded().download(`http://public.test:${allowed.port}${path}`, { maxBytes: 4096 }),
        path,
      ).rejects.toMatchObject({ code: 'SB_ERR_PAYLOAD_TOO_LARGE', status: 413 });
    }
    const cut = await guarded().request(`http://public.test:${allowed.port}/chunked`, {
      maxBytes: 100,
      onOverflow: 'truncate',
    });
    expect(cut.body.length).toBe(100);
  });

  it('times out a server that never answers', async () => {
    allowedHandler = () => {};
    await expect(
      guarded().request(`http://public.test:${allowed.port}/hang`, { timeoutMs: 150 }),
    ).rejects.toMatchObject({ code: 'SB_ERR_FETCH_FAILED', details: { reason: 'timed out' } });
  });

  it('never repeats what the remote answered', async () => {
    allowedHandler = (_req, res) =>
      res.writeHead(500, { 'x-internal': 'db-7' }).end('stack trace: SECRET-TOKEN');
    const err = (await guarded()
      .download(`http://public.test:${allowed.port}/boom`, { maxBytes: 1000 })
      .catch((e: unknown) => e)) as Error & { details: unknown };
    expect(err).toMatchObject({ code: 'SB_ERR_FETCH_FAILED', details: { status: 500 } });
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toMatch(/SECRET|db-7|stack/);
    const refused = await guarded()
      .request(`http://public.test:1/`)
      .catch((e: Error) => e);
    expect(refused).toMatchObject({ code: 'SB_ERR_FETCH_FAILED' });
    expect((refused as Error).message).not.toContain('127.0.0.2');
  });
});

describe('guarded fetch: keep-alive', () => {
  const keepAlive = (table: Record<string, string[]> = TABLE) =>
    createGuardedFetch({
      allowPrivate: false,
      resolve: async (host) => dns(table)(host),
      blocked: testPolicy,
      timeoutMs: 3000,
      keepAlive: true,
    });
  const ports = (): number[] => [];
  let seenPorts = ports();
  beforeEach(() => {
    seenPorts = ports();
    allowedHandler = (req, res) => {
      seenPorts.push(req.socket.remotePort ?? 0);
      res.end('ok');
    };
  });

  it('sends one request after another on the same connection (and without keep-alive on new ones)', async () => {
    const f = keepAlive();
    for (let i = 0; i < 3; i++) {
      const res = await f.request(`http://public.test:${allowed.port}/k`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(200);
    }
    expect(new Set(seenPorts).size).toBe(1);
    f.close();
    for (let i = 0; i < 2; i++) await guarded().request(`http://public.test:${allowed.port}/k`);
    expect(new Set(seenPorts).size).toBe(3);
  });

  it('a URL parsed once is reused as it was checked: changing what check() returned changes no later request', async () => {
    const f = keepAlive();
    const raw = `http://public.test:${allowed.port}/same?q=1`;
    const paths: string[] = [];
    allowedHandler = (req, res) => {
      paths.push(req.url ?? '');
      res.end('ok');
    };
    expect((await f.request(raw, { method: 'POST', body: '{}' })).url).toBe(raw);
    const checked = await f.check(raw);
    checked.hostname = '127.0.0.1';
    checked.port = String(canary.port);
    checked.pathname = '/moved';
    const again = await f.request(raw, { method: 'POST', body: '{}' });
    expect([again.status, again.url]).toEqual([200, raw]);
    expect(paths).toEqual(['/same?q=1', '/same?q=1']);
    expect(hits).toEqual([]);
    f.close();
  });

  it('checks the address of every new connection: a host re-pointed at loopback is refused once its connection is gone', async () => {
    const table = { ...TABLE, 'moving.test': ['127.0.0.2'] };
    const f = keepAlive(table);
    expect((await f.request(`http://moving.test:${allowed.port}/a`)).status).toBe(200);
    for (const url of spellings()) {
      await expect(f.request(url, { method: 'POST', body: '{}' }), url).rejects.toMatchObject({
        code: 'SB_ERR_URL_BLOCKED',
      });
    }
    table['moving.test'] = ['127.0.0.1'];
    allowed.server.closeAllConnections();
    await new Promise((r) => setTimeout(r, 20));
    await expect(f.request(`http://moving.test:${canary.port}/a`)).rejects.toMatchObject({
      code: 'SB_ERR_URL_BLOCKED',
    });
    await expect(f.request(`http://moving.test:${allowed.port}/a`)).rejects.toMatchObject({
      code: 'SB_ERR_URL_BLOCKED',
    });
    expect(hits).toEqual([]);
    f.close();
  });

  it('sends a request once more on a new connection when the reused one was closed by the server', async () => {
    const served = new Set<unknown>();
    allowedHandler = (req, res) => {
      // The second request on a connection finds it reset (a server that closed it while idle).
      if (served.has(req.socket)) return req.socket.destroy();
      served.add(req.socket);
      seenPorts.push(req.socket.remotePort ?? 0);
      res.end('ok');
    };
    const f = keepAlive();
    for (let i = 0; i < 2; i++) {
      const res = await f.request(`http://public.test:${allowed.port}/r`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(200);
    }
    expect(new Set(seenPorts).size).toBe(2);
    f.close();
  });
});
