// Rate limits on real Redis and through a Redis outage (a TCP proxy in front of the shared Redis is cut mid-test).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../test/support/gateway.js';
import { requireService } from '../../test/support/services.js';
import { createRateLimiterFactory } from './rate-limiter.js';

const redis = await requireService('redis');
const redisUrl = new URL(redis.target);
const REDIS = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) };
const quiet = { warn: () => {}, info: () => {} };

/** A TCP proxy to the shared Redis that the test can cut and restore (the real server is never stopped). */
class RedisProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(REDIS);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise((r) => s.close(r));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
}

describe('rate limiter factory without Redis', () => {
  it('limits in memory without Redis, per key', async () => {
    const f = createRateLimiterFactory({ keyPrefix: 'mem', logger: quiet });
    expect(f.backend).toBe('memory');
    const l = f.create({ name: 'x', points: 2, windowMs: 60_000 });
    expect((await l.consume('a')).allowed).toBe(true);
    expect((await l.consume('a')).remaining).toBe(0);
    const refused = await l.consume('a');
    expect(refused).toMatchObject({ allowed: false, limit: 2, remaining: 0 });
    expect(refused.resetMs).toBeGreaterThan(0);
    expect((await l.consume('b')).allowed).toBe(true);
    await f.close();
  });
});

describe.skipIf(!redis.available)('rate limiter factory on Redis', () => {
  const proxy = new RedisProxy();
  let direct: Redis;
  beforeAll(async () => {
    direct = new Redis(REDIS);
    await proxy.start();
  });
  afterAll(async () => {
    await proxy.stop();
    direct?.disconnect();
  });

  it('shares a budget through Redis, and keeps limiting in memory while Redis is down', async () => {
    const prefix = `sbtest:${randomBytes(6).toString('hex')}`;
    const a = createRateLimiterFactory({ redisUrl: proxy.url, keyPrefix: prefix, logger: quiet });
    const b = createRateLimiterFactory({ redisUrl: proxy.url, keyPrefix: prefix, logger: quiet });
    const la = a.create({ name: 'send', points: 3, windowMs: 60_000 });
    const lb = b.create({ name: 'send', points: 3, windowMs: 60_000 });
    await eventually(() => a.connected && b.connected);
    expect((await la.consume('k')).allowed).toBe(true);
    expect((await lb.consume('k')).allowed).toBe(true);
    expect((await la.consume('k')).allowed).toBe(true);
    // Both "replicas" spent the one budget kept in Redis.
    expect((await lb.consume('k')).allowed).toBe(false);
    expect(Number(await direct.get(`${prefix}:send:k`))).toBe(4);

    await proxy.stop();
    // Redis unreachable: answers still come (from the insurance limiter) and still limit.
    const during = [];
    for (let i = 0; i < 4; i++) during.push((await la.consume('outage')).allowed);
    expect(during).toEqual([true, true, true, false]);

    await proxy.start();
    await eventually(async () => {
      await la.consume('after');
      return Number(await direct.get(`${prefix}:send:after`)) > 0;
    }, 10_000);
    await a.close();
    await b.close();
  });
});

describe.skipIf(!redis.available)('send rate limit over HTTP', () => {
  const proxy = new RedisProxy();
  let t: TestGateway;
  beforeAll(async () => {
    await proxy.start();
    t = await startTestGateway({
      env: {
        REDIS_URL: proxy.url,
        RATE_LIMIT_MAX_REQUESTS: '3',
        RATE_LIMIT_WINDOW_MS: '60000',
        SESSION_PROVIDER: 'simulator',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await proxy.stop();
  });

  const send = (headers: Record<string, string>, id: string) =>
    t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/messages`,
      headers,
      payload: { to: '+79001234567', text: 'hello' },
    });

  it('gives 429 with an integer Retry-After per company on every send path; Redis up, then down', async () => {
    const acme = await createCompany(t, 'acme');
    const globex = await createCompany(t, 'globex');
    const a = await createConnectedInstance(t, acme, 'acme', '15550001001');
    const g = await createConnectedInstance(t, globex, 'globex', '15550001002');
    await eventually(() => t.gw.limiters.connected);
    const first = await send(acme, a.id);
    expect(first.statusCode, first.body).toBe(201);
    expect((await send(acme, a.id)).statusCode).toBe(201);
    expect((await send(acme, a.id)).statusCode).toBe(201);
    const limited = await send(acme, a.id);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('SB_ERR_RATE_LIMITED');
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.headers['x-ratelimit-limit']).toBe('3');
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    // The company session API shares the same budget (a SendGuard on MessagingService).
    // The budget lives in Redis.
    const direct = new Redis(REDIS);
    expect(Number(await direct.get(`switchboard:${t.db.schema}:rl:send:send:acme`))).toBe(4);
    direct.disconnect();
    await t.app.inject({ method: 'POST', url: '/api/whatsapp/sessions/acme/initialize', headers: acme });
    const session = (await t.gw.companySessions.get({ kind: 'admin', keyId: null }, 'acme'))!;
    await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${session.instanceId}/simulate/scan`,
      headers: acme,
      payload: { phone: '15550001004' },
    });
    await eventually(
      async () =>
        (await t.app.inject({ url: '/api/whatsapp/sessions/acme/health', headers: acme })).statusCode === 200,
    );
    const viaSeed = await t.app.inject({
      method: 'POST',
      url: '/api/whatsapp/sessions/acme/send',
      headers: acme,
      payload: { phone: '+79001234567', message: 'x' },
    });
    expect(viaSeed.statusCode).toBe(429);
    expect(viaSeed.headers['retry-after']).toMatch(/^\d+$/);
    // Another company is not slowed by acme's limit.
    expect((await send(globex, g.id)).statusCode).toBe(201);

    // Redis goes away mid-test: sends keep working and limiting (in-memory insurance), nothing 500s.
    await proxy.stop();
    const initech = await createCompany(t, 'initech');
    const i = await createConnectedInstance(t, initech, 'initech', '15550001003');
    const codes = [];
    for (let n = 0; n < 4; n++) codes.push((await send(initech, i.id)).statusCode);
    expect(codes).toEqual([201, 201, 201, 429]);
    expect((await send(globex, g.id)).statusCode).toBe(201);
  });
});
