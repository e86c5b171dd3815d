// The services helper: where it looks, what it answers for a running and a missing service, and the skip block.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './process.js';
import { formatSkipBlock, type SkipRecord, serviceTarget, shownTarget } from './service-specs.js';
import { isCi, requireService } from './services.js';

let dir: string;
let server: net.Server;
let openPort: number;
let closedPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-services-test-'));
  server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  openPort = (server.address() as net.AddressInfo).port;
  closedPort = await freePort();
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const records = (d: string): SkipRecord[] =>
  readdirSync(d).map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')) as SkipRecord);

describe('where a service is looked for', () => {
  it('takes the env override when non-empty, else the port .ci/run provides', () => {
    expect(serviceTarget('redis', {})).toBe('redis://127.0.0.1:6379');
    expect(serviceTarget('redis', { TEST_REDIS_URL: '' })).toBe('redis://127.0.0.1:6379');
    expect(serviceTarget('redis', { TEST_REDIS_URL: 'redis://127.0.0.1:9' })).toBe('redis://127.0.0.1:9');
    expect(serviceTarget('rabbitmq', { TEST_AMQP_URL: 'amqp://127.0.0.1:9' })).toBe('amqp://127.0.0.1:9');
    expect(serviceTarget('nats', {})).toBe('nats://127.0.0.1:4222');
    expect(serviceTarget('chromium', {})).toBe('/usr/bin/chromium');
    expect(serviceTarget('chromium', { CHROMIUM_PATH: '/opt/c' })).toBe('/opt/c');
  });

  it('uses the PostgreSQL pass server first, then TEST_POSTGRES_URL', () => {
    expect(serviceTarget('postgres', {})).toBe('postgres://postgres@127.0.0.1:5432/test');
    expect(serviceTarget('postgres', { TEST_POSTGRES_URL: 'postgres://x@127.0.0.1:9/t' })).toBe(
      'postgres://x@127.0.0.1:9/t',
    );
    expect(
      serviceTarget('postgres', {
        TEST_DATABASE_URL: 'postgres://a@127.0.0.1:5432/test',
        TEST_POSTGRES_URL: 'postgres://x@127.0.0.1:9/t',
      }),
    ).toBe('postgres://a@127.0.0.1:5432/test');
  });

  it('never prints a password', () => {
    expect(shownTarget('amqp://guest:secret@127.0.0.1:5672')).toBe('amqp://guest:***@127.0.0.1:5672');
    expect(shownTarget('/usr/bin/chromium')).toBe('/usr/bin/chromium');
  });

  it('reads CI as CI providers set it', () => {
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({ CI: '1' })).toBe(true);
    expect(isCi({})).toBe(false);
    expect(isCi({ CI: '' })).toBe(false);
    expect(isCi({ CI: 'false' })).toBe(false);
  });
});

describe('requireService', () => {
  it('answers available for a listening port, records nothing', async () => {
    const skipDir = mkdtempSync(join(dir, 'up-'));
    const nats = await requireService('nats', {
      env: { TEST_NATS_URL: `nats://127.0.0.1:${openPort}` },
      skipDir,
    });
    expect(nats).toEqual({ name: 'nats', available: true, target: `nats://127.0.0.1:${openPort}` });
    expect(records(skipDir)).toEqual([]);
  });

  it('without CI, answers unavailable for a closed port and records the skip for the end-of-run block', async () => {
    const skipDir = mkdtempSync(join(dir, 'down-'));
    const target = `redis://127.0.0.1:${closedPort}`;
    const redis = await requireService('redis', {
      env: { TEST_REDIS_URL: target },
      skipDir,
      file: '/x/a.test.ts',
    });
    expect(redis).toEqual({ name: 'redis', available: false, target });
    expect(records(skipDir)).toEqual([
      { file: '/x/a.test.ts', service: 'redis', target, reason: expect.stringMatching(/ECONNREFUSED/) },
    ]);
  });

  it('under CI, throws for a missing service, naming it and how to provide it', async () => {
    const skipDir = mkdtempSync(join(dir, 'ci-'));
    const env = { CI: 'true', TEST_AMQP_URL: `amqp://guest:guest@127.0.0.1:${closedPort}` };
    await expect(requireService('rabbitmq', { env, skipDir })).rejects.toThrow(
      new RegExp(
        `RabbitMQ is required under CI but is not reachable at amqp://guest:\\*\\*\\*@127.0.0.1:${closedPort}.*TEST_AMQP_URL`,
      ),
    );
    expect(records(skipDir)).toEqual([]);
  });

  it('checks PostgreSQL by connecting', async () => {
    const skipDir = mkdtempSync(join(dir, 'pg-'));
    const env = { TEST_POSTGRES_URL: `postgres://postgres@127.0.0.1:${closedPort}/test` };
    expect((await requireService('postgres', { env, skipDir })).available).toBe(false);
    // A port that accepts TCP but does not speak PostgreSQL is not a database.
    const fake = { TEST_POSTGRES_URL: `postgres://postgres@127.0.0.1:${openPort}/test` };
    expect((await requireService('postgres', { env: fake, skipDir })).available).toBe(false);
  });

  it('checks Chromium and the PostgreSQL binaries as executables', async () => {
    const skipDir = mkdtempSync(join(dir, 'exe-'));
    const bin = mkdtempSync(join(dir, 'bin-'));
    const exe = join(bin, 'chromium');
    writeFileSync(exe, '#!/bin/sh\n');
    chmodSync(exe, 0o755);
    expect((await requireService('chromium', { env: { CHROMIUM_PATH: exe }, skipDir })).available).toBe(true);
    const missing = await requireService('chromium', { env: { CHROMIUM_PATH: join(bin, 'nope') }, skipDir });
    expect(missing.available).toBe(false);
    // initdb alone is not enough: pg_ctl is needed too.
    for (const tool of ['initdb']) {
      writeFileSync(join(bin, tool), '#!/bin/sh\n');
      chmodSync(join(bin, tool), 0o755);
    }
    expect((await requireService('postgres-bin', { env: { TEST_PG_BIN: bin }, skipDir })).available).toBe(
      false,
    );
    expect(records(skipDir).map((r) => r.service)).toEqual(
      expect.arrayContaining(['chromium', 'postgres-bin']),
    );
  });
});

describe('the skip block', () => {
  it('lists each file once with the services it needs, relative to the root, and how to provide them', () => {
    const block = formatSkipBlock(
      [
        { file: '/r/src/a.test.ts', service: 'redis', target: 'redis://127.0.0.1:9', reason: 'ECONNREFUSED' },
        { file: '/r/src/a.test.ts', service: 'redis', target: 'redis://127.0.0.1:9', reason: 'ECONNREFUSED' },
        { file: '/r/test/e2e/b.test.ts', service: 'chromium', target: '/nope', reason: 'ENOENT' },
        {
          file: '/r/test/e2e/b.test.ts',
          service: 'redis',
          target: 'redis://127.0.0.1:9',
          reason: 'ECONNREFUSED',
        },
      ],
      '/r',
      ['test/e2e/crash-delivery.test.ts'],
    );
    const lines = block.split('\n');
    expect(lines.filter((l) => l.trim() === 'src/a.test.ts')).toHaveLength(1);
    expect(block).toMatch(
      / {2}src\/a\.test\.ts\n {6}needs Redis at redis:\/\/127\.0\.0\.1:9: ECONNREFUSED\n {2}test\/e2e/,
    );
    expect(block).toMatch(/test\/e2e\/b\.test\.ts\n {6}needs Chromium at \/nope: ENOENT\n {6}needs Redis/);
    expect(block).toMatch(/Chromium: apt-get install chromium.*CHROMIUM_PATH/);
    expect(block).toMatch(/Redis: apt-get install redis-server.*TEST_REDIS_URL/);
    expect(block).not.toMatch(/RabbitMQ/);
    expect(block).toMatch(/test\/e2e\/crash-delivery\.test\.ts\n.*TEST_DATABASE_URL=/);
    expect(block).toMatch(/bash \.ci\/run/);
  });
});
