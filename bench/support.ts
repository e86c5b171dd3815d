// Shared benchmark helpers: database, in-process gateway, percentiles, machine info and the one-line JSON result.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { createGateway, type Gateway, shutdownGateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import type { ProviderEvent, ProviderFactory, ProviderRegistry } from '../src/ports/provider.js';
import type { Store } from '../src/ports/store.js';
import { createProviderRegistry } from '../src/providers/registry.js';
import { SimulatorNetwork } from '../src/providers/simulator/network.js';
import { migrate } from '../src/storage/migrate.js';
import { createPgDriver } from '../src/storage/pg-driver.js';
import { createPgliteDriver } from '../src/storage/pglite-driver.js';
import type { Driver } from '../src/storage/sql.js';
import { createSqlStore } from '../src/storage/sql-store.js';

/** The admin key of every benchmark gateway (never a real secret). */
export const BENCH_ADMIN_KEY = 'sb_admin_bench_0123456789abcdefghijklmnop';

/** True when the script was started with --quick (each benchmark ≤ 30 s). */
export const QUICK = process.argv.includes('--quick');

/** The PostgreSQL URL to benchmark on (BENCH_DATABASE_URL, then TEST_DATABASE_URL), or undefined for PGlite. */
export function databaseUrl(): string | undefined {
  return process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || undefined;
}

export interface BenchDb {
  kind: 'postgres' | 'pglite';
  driver: Driver;
  store: Store;
  schema: string;
  /** Statements sent to the database so far through the store (BEGIN and COMMIT count as one each). */
  statements(): number;
  /** Drops the schema (PostgreSQL) and closes the driver. */
  close(): Promise<void>;
}

/** A fresh random schema on PostgreSQL when a URL is configured, else an in-memory PGlite; migrated. */
export async function openBenchDb(
  opts: { poolSize?: number; kind?: 'postgres' | 'pglite' } = {},
): Promise<BenchDb> {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const url = databaseUrl();
  const kind = opts.kind ?? (url ? 'postgres' : 'pglite');
  if (kind === 'postgres') {
    if (!url) throw new Error('no PostgreSQL URL: set BENCH_DATABASE_URL or TEST_DATABASE_URL');
    // Our own application_name: the sampler finds exactly this benchmark's connections (BEGIN/COMMIT included).
    const driver = createPgDriver({
      url: withApplicationName(url, schema),
      ssl: false,
      poolSize: opts.poolSize ?? 10,
    });
    await migrate(driver, schema);
    const counted = countStatements(driver);
    return {
      kind,
      driver,
      schema,
      store: createSqlStore(counted.driver, schema),
      statements: counted.count,
      close: async () => {
        const drop = () => driver.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await drop().catch(async () => {
          await new Promise((r) => setTimeout(r, 500));
          await drop().catch((err) => progress(`could not drop schema ${schema}: ${String(err)}`));
        });
        await driver.close();
      },
    };
  }
  const driver = await createPgliteDriver(undefined);
  await migrate(driver, schema);
  const counted = countStatements(driver);
  return {
    kind,
    driver,
    schema,
    store: createSqlStore(counted.driver, schema),
    statements: counted.count,
    close: () => driver.close(),
  };
}

/** The URL with `application_name` set to `name` (replacing one it had). */
export function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

/** A driver that counts the statements it runs (to report statements per operation). */
function countStatements(inner: Driver): { driver: Driver; count: () => number } {
  let n = 0;
  const driver: Driver = {
    kind: inner.kind,
    query: (text, params) => {
      n++;
      return inner.query(text, params);
    },
    transaction: (fn) => {
      n += 2;
      return inner.transaction((sql) =>
        fn({
          query: (text, params) => {
            n++;
            return sql.query(text, params);
          },
        }),
      );
    },
    close: () => inner.close(),
  };
  return { driver, count: () => n };
}

export interface BenchGateway {
  gw: Gateway;
  app: FastifyInstance;
  network: SimulatorNetwork;
  /** Base URL (listening on 127.0.0.1, random port). */
  url: string;
  admin: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Builds the gateway in-process like the tests do (createGateway + buildApp) and listens on 127.0.0.1:0.
 * `onProviderEvent` sees every simulator fact at the moment the provider reports it (before the core persists it).
 */
export async function startBenchGateway(
  db: BenchDb,
  opts: {
    env?: Record<string, string>;
    onProviderEvent?: (instanceId: string, event: ProviderEvent) => void;
    listen?: boolean;
  } = {},
): Promise<BenchGateway> {
  const config = loadConfig({
    ADMIN_API_KEY: BENCH_ADMIN_KEY,
    LOG_LEVEL: 'silent',
    DATABASE_SCHEMA: db.schema,
    RATE_LIMIT_MAX_REQUESTS: '1000000',
    SIMULATOR_ACK_DELAY_MS: '60000',
    SIMULATOR_QR_ROTATE_MS: '3600000',
    ...opts.env,
  });
  const network = new SimulatorNetwork({
    qrRotateMs: config.simulator.qrRotateMs,
    ackDelayMs: config.simulator.ackDelayMs,
  });
  let providers: ProviderRegistry | undefined;
  if (opts.onProviderEvent) {
    providers = instrumentRegistry(
      createProviderRegistry(config, { store: db.store, simulatorNetwork: network }),
      opts.onProviderEvent,
    );
  }
  const gw = createGateway(config, db.store, createLogger(config.logLevel), {
    simulatorNetwork: network,
    ...(providers ? { providers } : {}),
  });
  const app = await buildApp(gw);
  const url = opts.listen === false ? '' : await app.listen({ port: 0, host: '127.0.0.1' });
  if (opts.listen === false) await app.ready();
  return {
    gw,
    app,
    network,
    url,
    admin: { authorization: `Bearer ${BENCH_ADMIN_KEY}` },
    async close() {
      gw.shuttingDown = true;
      await app.close();
      await shutdownGateway(gw);
    },
  };
}

/** Wraps every provider so `tap` sees each fact when the provider reports it. */
function instrumentRegistry(
  inner: ProviderRegistry,
  tap: (instanceId: string, event: ProviderEvent) => void,
): ProviderRegistry {
  const wrap = (f: ProviderFactory): ProviderFactory =>
    Object.assign(Object.create(f) as ProviderFactory, {
      createSession: (ctx: Parameters<ProviderFactory['createSession']>[0]) =>
        f.createSession({
          ...ctx,
          emit: (event: ProviderEvent) => {
            tap(ctx.instanceId, event);
            return ctx.emit(event);
          },
        }),
    });
  const cache = new Map<ProviderFactory, ProviderFactory>();
  const get = (f: ProviderFactory) => {
    const hit = cache.get(f);
    if (hit) return hit;
    const w = wrap(f);
    cache.set(f, w);
    return w;
  };
  return {
    get: (name) => {
      const f = inner.get(name);
      return f ? get(f) : undefined;
    },
    list: () => inner.list().map(get),
  };
}

/** Creates simulator instances directly (store + supervisor, no HTTP) and connects them (client_ready). */
export async function connectedInstances(
  gw: Gateway,
  companyId: string,
  n: number,
  opts: { concurrency?: number; connect?: boolean; first?: number } = {},
): Promise<string[]> {
  await gw.store.companies.ensure(companyId, companyId);
  const ids: string[] = [];
  const first = opts.first ?? 0;
  await inParallel(n, opts.concurrency ?? 20, async (i) => {
    const inst = await gw.store.instances.create({
      company_id: companyId,
      provider: 'simulator',
      name: `bench-${first + i}`,
      type_instance: ['api'],
      settings: {},
      mcp_schema: {},
      desired_state: 'running',
    });
    await gw.supervisor.start(inst.id);
    if (opts.connect !== false) {
      await gw.supervisor.control(inst.id, 'scan', {
        phone: `1555${String(1_000_000 + first + i).slice(-7)}`,
      });
    }
    ids[i] = inst.id;
  });
  return ids;
}

/** Runs `fn(0..n-1)` with at most `concurrency` in flight. */
export async function inParallel(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

/** The p-th percentile (0..100) of a list of numbers, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Rounds to `d` decimals (JSON figures stay readable). */
export function round(v: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

export interface Machine {
  cpus: number;
  model: string;
  mem: string;
  node: string;
  load: number;
  db: string;
}

/** The machine a figure was measured on (cpu count and model, memory, Node version, 1-min load, database). */
export function machine(db: string): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    mem: `${round(totalmem() / 1024 ** 3, 1)} GB`,
    node: process.version,
    load: round(loadavg()[0], 2),
    db,
  };
}

export interface BenchResult {
  name: string;
  /** The headline figures (what the table shows first). */
  [figure: string]: unknown;
  baseline: Record<string, unknown>;
  /** Our figure as a fraction of the same-run baseline (throughput: ours/baseline; latency: baseline/ours). */
  ratio: number;
  goal: string;
  met: boolean;
  machine: Machine;
}

/** Prints the result as ONE JSON line on stdout (the suite reads the last JSON line). */
export function report(result: BenchResult): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Progress to stderr (never mixed with the JSON on stdout). */
export function progress(msg: string): void {
  process.stderr.write(`[bench ${(performance.now() / 1000).toFixed(1)}s] ${msg}\n`);
}

/** Runs a benchmark's main and exits (non-zero on failure, with the error on stderr). */
export function main(fn: () => Promise<void>): void {
  fn().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

/** What the gateway's PostgreSQL connections were doing, sampled from pg_stat_activity (percent of samples). */
export interface DbStates {
  samples: number;
  /** Inside a transaction, the server waiting for the gateway's next statement (round trips through Node). */
  idle_in_tx_pct: number;
  /** Executing (CPU or I/O in the server), not counting WAL and lock waits. */
  active_pct: number;
  /** Waiting for the write-ahead log (commit flushes). */
  wal_wait_pct: number;
  /** Waiting for a row or table lock held by another transaction. */
  lock_wait_pct: number;
  /** Connected, no transaction open (the pool had spare connections). */
  idle_pct: number;
}

/**
 * Samples pg_stat_activity every `everyMs` for this benchmark's connections — found by their application_name (the
 * schema name, set by openBenchDb), so BEGIN, COMMIT and their WAL waits count too (PostgreSQL only; null on
 * PGlite). Call the returned function to stop and get the shares.
 */
export async function sampleDbStates(db: BenchDb, everyMs = 100): Promise<() => Promise<DbStates | null>> {
  const url = databaseUrl();
  if (db.kind !== 'postgres' || !url) return async () => null;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const counts = { idle_in_tx: 0, active: 0, wal: 0, lock: 0, idle: 0, total: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ state: string | null; wt: string | null; we: string | null }>(
        `SELECT state, wait_event_type AS wt, wait_event AS we FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND application_name = $1`,
        [db.schema],
      );
      for (const r of rows) {
        counts.total++;
        if (r.wt === 'Lock') counts.lock++;
        else if (r.we && /^WAL/.test(r.we)) counts.wal++;
        else if (r.state === 'idle in transaction') counts.idle_in_tx++;
        else if (r.state === 'active') counts.active++;
        else counts.idle++;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    running = false;
    await loop.catch(() => {});
    await client.end().catch(() => {});
    const pct = (n: number) => round((100 * n) / Math.max(1, counts.total), 1);
    return {
      samples: counts.total,
      idle_in_tx_pct: pct(counts.idle_in_tx),
      active_pct: pct(counts.active),
      wal_wait_pct: pct(counts.wal),
      lock_wait_pct: pct(counts.lock),
      idle_pct: pct(counts.idle),
    };
  };
}

/**
 * With BENCH_CPU_PROFILE=<file.cpuprofile>, starts a V8 CPU profile of this process; the function it returns stops
 * it and writes the file (read it with bench/profile-top.ts). Without the variable both do nothing. A benchmark
 * brackets only its measured phase, so its fill and baseline, run in the same process, do not blur the profile.
 */
export async function profileIfAsked(): Promise<() => Promise<void>> {
  const path = process.env.BENCH_CPU_PROFILE;
  if (!path) return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
  };
}
