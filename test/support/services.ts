// Local services some tests need (PostgreSQL, Redis, Chromium, brokers): checked once; skipped and reported on a bare
// machine, a failure under CI. Hand-written: a TCP connect, a file check and one `pg` query need no library.
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { SERVICES, type ServiceName, type SkipRecord, serviceTarget, shownTarget } from './service-specs.js';

export { SERVICES, type ServiceName } from './service-specs.js';

/** What a test file learns about one service. */
export interface Service {
  name: ServiceName;
  /** True when the service answered (or the file exists); the file runs its tests only then. */
  available: boolean;
  /** Where it was looked for: a URL (`redis://127.0.0.1:6379`), a path (Chromium, PostgreSQL's bin directory). */
  target: string;
}

/** True when `CI` is set to anything but an empty string, `0` or `false` (as CI providers set it). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI?.trim().toLowerCase();
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

/** Resolves once a TCP connection to host:port opens; rejects on refusal or after `timeoutMs` (default 1,000 ms). */
function tcpProbe(host: string, port: number, timeoutMs = 1000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const done = (err?: Error) => {
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`no answer within ${timeoutMs} ms`)));
    socket.once('connect', () => done());
    socket.once('error', (err) => done(err));
  });
}

function tcpOf(url: string, defaultPort: number): Promise<void> {
  const u = new URL(url);
  return tcpProbe(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || defaultPort));
}

async function pgProbe(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  // A refused or dropped connection also emits 'error' on the client; connect() below reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch((err: Error) => {
      if (!/not.*connected|Client was closed/i.test(err.message)) throw err;
    });
  }
}

function executable(path: string): void {
  accessSync(path, constants.X_OK);
}

/** How each service is checked; throws with the reason when it is not there. */
const probes: Record<ServiceName, (target: string) => Promise<void> | void> = {
  postgres: pgProbe,
  'postgres-bin': (dir) => {
    for (const tool of ['initdb', 'pg_ctl']) executable(join(dir, tool));
  },
  redis: (url) => tcpOf(url, 6379),
  chromium: executable,
  rabbitmq: (url) => tcpOf(url, 5672),
  nats: (url) => tcpOf(url, 4222),
  'nats-server': executable,
  mosquitto: executable,
};

/** One check per service and target per worker process. */
const checked = new Map<string, Promise<string | null>>();

/** Resolves to null when the service is there, else to the reason it is not. */
function check(name: ServiceName, target: string): Promise<string | null> {
  const key = `${name} ${target}`;
  let p = checked.get(key);
  if (!p) {
    p = (async () => {
      try {
        await probes[name](target);
        return null;
      } catch (err) {
        return (err as Error).message || String(err);
      }
    })();
    checked.set(key, p);
  }
  return p;
}

/** Debian's newest PostgreSQL bin directory (`/usr/lib/postgresql/<major>/bin`), if any. */
function newestPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length ? join(root, majors[0]!, 'bin') : undefined;
}

function recordSkip(dir: string | undefined, rec: SkipRecord): void {
  if (!dir) return;
  writeFileSync(join(dir, `${randomBytes(8).toString('hex')}.json`), JSON.stringify(rec));
}

/** Seams for the helper's own tests; test files call `requireService(name)` alone. */
export interface RequireOptions {
  /** Where targets and `CI` are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where a skip is recorded (default: the global setup's directory, `inject('serviceSkipDir')`). */
  skipDir?: string;
  /** The file named in the record (default: the calling test file). */
  file?: string;
}

/**
 * Declares that the calling test file needs `name`, checking it once per worker. Call it at the top of the file and
 * skip what needs it: `const redis = await requireService('redis'); describe.skipIf(!redis.available)(…)`.
 * A missing service under `CI` throws (the file fails, naming the service and how to provide it); without `CI` it
 * returns `available: false` and the skip is listed in the block printed at the end of the run.
 */
export async function requireService(name: ServiceName, opts: RequireOptions = {}): Promise<Service> {
  const env = opts.env ?? process.env;
  const target = serviceTarget(name, env, { pgBinDirs: newestPgBin });
  const error = await check(name, target);
  if (error === null) return { name, available: true, target };
  const spec = SERVICES[name];
  if (isCi(env)) {
    throw new Error(
      `${spec.label} is required under CI but is not reachable at ${shownTarget(target)} (${error}). ` +
        `Provide it: ${spec.provide}; or point ${spec.env} at one that runs.`,
    );
  }
  const file = opts.file ?? expect.getState().testPath ?? 'unknown test file';
  recordSkip(opts.skipDir ?? inject('serviceSkipDir'), { file, service: name, target, reason: error });
  return { name, available: false, target };
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** A directory the global setup created, where workers leave one JSON file per skipped service (SkipRecord). */
    serviceSkipDir: string;
  }
}
