// Failover benchmark and harness: N replica processes on one PostgreSQL, SIGKILL one, time the takeover.
// Run: DATABASE_URL=postgres://… [REDIS_URL=redis://…] npx tsx bench/failover.ts [--instances 50] [--ttl 3000]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from '../test/support/net.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN_KEY = 'sb_admin_failover_0123456789abcdefghij';

export interface Replica {
  id: string;
  url: string;
  proc: ChildProcess;
  /** The last lines the process wrote (for diagnostics). */
  output: string[];
}

export interface FailoverOptions {
  databaseUrl: string;
  redisUrl?: string;
  replicas?: number;
  instances?: number;
  renewMs?: number;
  ttlMs?: number;
  /** Progress lines (the bench prints them; the test keeps them for failures). */
  log?: (line: string) => void;
}

interface LogEntry {
  instance_id: string;
  event: 'connect' | 'disconnect';
  at: number;
}

export interface FailoverReport {
  schema: string;
  victim: string;
  /** Sessions the victim ran when it was killed. */
  moved: number;
  killedAt: number;
  /** Milliseconds from the kill until the last of the victim's sessions ran on another replica. */
  recoveryMs: number;
  ttlMs: number;
  /** Instances that ever had two live connections on different replicas at once (must be empty). */
  overlaps: string[];
  /** Most replicas that ever listed one instance in the same polling round (1 is the only good answer). */
  maxListedTogether: number;
  accepted: number;
  /** Messages accepted (201) before the kill that cannot be read afterwards (must be empty). */
  lost: string[];
  /** A send to every moved instance after the takeover: how many were accepted. */
  sentAfter: number;
  sessionsPerReplica: Record<string, number>;
}

async function api<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
}

async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  ms: number,
): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > ms)
      throw new Error(`${what}: not reached within ${ms} ms ${last ? String(last) : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `fn` over items with at most `n` in flight. */
async function pool<T>(items: T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

/** Starts one replica process (`node --import tsx src/main.ts serve`) and waits for /ready. */
export async function startReplica(
  id: string,
  env: Record<string, string>,
  dataDir: string,
): Promise<Replica> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REPLICA_ID: id,
      DATA_DIR: join(dataDir, id),
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: 'warn',
      SIMULATOR: 'on',
      SIMULATOR_ACK_DELAY_MS: '300',
      CLUSTER_MODE: 'on',
      // The scenario sends two messages per instance in seconds: keep the per-company send limit out of the way.
      RATE_LIMIT_MAX_REQUESTS: '1000000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  await until(
    `replica ${id} ready`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`replica ${id} exited: ${output.slice(-5).join(' | ')}`);
      return (await fetch(`${url}/ready`)).status === 200;
    },
    60_000,
  );
  return { id, url, proc, output };
}

async function stopReplica(r: Replica): Promise<void> {
  if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => r.proc.once('exit', () => resolve()));
  r.proc.kill('SIGTERM');
  const t = setTimeout(() => r.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

interface ClusterView {
  sessions: string[];
  simulator_connections?: LogEntry[];
}

const view = async (r: Replica, connections = false) =>
  (await api<ClusterView>(r.url, 'GET', `/api/v1/cluster${connections ? '?connections=true' : ''}`)).json;

/** Instances that two replicas had connected at overlapping times, from the simulator connection logs. */
export function findOverlaps(logs: Map<string, LogEntry[]>, endOf: Map<string, number>): string[] {
  const intervals = new Map<string, Array<{ replica: string; from: number; to: number }>>();
  for (const [replica, log] of logs) {
    const open = new Map<string, number>();
    for (const e of log) {
      if (e.event === 'connect') open.set(e.instance_id, e.at);
      else if (open.has(e.instance_id)) {
        const list = intervals.get(e.instance_id) ?? [];
        list.push({ replica, from: open.get(e.instance_id)!, to: e.at });
        intervals.set(e.instance_id, list);
        open.delete(e.instance_id);
      }
    }
    for (const [instance, from] of open) {
      const list = intervals.get(instance) ?? [];
      list.push({ replica, from, to: endOf.get(replica) ?? Number.POSITIVE_INFINITY });
      intervals.set(instance, list);
    }
  }
  const bad: string[] = [];
  for (const [instance, list] of intervals) {
    const clash = list.some((x, i) =>
      list.some((y, j) => i < j && x.replica !== y.replica && x.from < y.to && y.from < x.to),
    );
    if (clash) bad.push(instance);
  }
  return bad;
}

/** The whole scenario: start replicas, run instances, send, SIGKILL one replica, measure and check. */
export async function runFailover(opts: FailoverOptions): Promise<FailoverReport> {
  const n = opts.replicas ?? 3;
  const count = opts.instances ?? 50;
  const ttlMs = opts.ttlMs ?? 3000;
  const renewMs = opts.renewMs ?? 500;
  const t0 = Date.now();
  const log = (line: string) => opts.log?.(`[+${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  const schema = `fo_${randomBytes(5).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-failover-'));
  const env: Record<string, string> = {
    DATABASE_URL: opts.databaseUrl,
    DATABASE_SCHEMA: schema,
    DATABASE_POOL_SIZE: '8',
    LEASE_RENEW_MS: String(renewMs),
    LEASE_TTL_MS: String(ttlMs),
    CLUSTER_COMMAND_TIMEOUT_MS: '5000',
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
  };
  const replicas: Replica[] = [];
  let polling = true;
  try {
    // All start at once: migrations take a transaction-scoped advisory lock, so concurrent starts are safe.
    replicas.push(
      ...(await Promise.all(Array.from({ length: n }, (_, i) => startReplica(`r${i + 1}`, env, dataDir)))),
    );
    log(`${n} replicas ready on schema ${schema} (${opts.redisUrl ? 'redis' : 'postgres'} transport)`);
    const at = (i: number) => replicas[i % replicas.length];

    await api(at(0).url, 'POST', '/api/v1/companies', { id: 'failover', name: 'failover' });
    const ids: string[] = new Array(count);
    await pool([...Array(count).keys()], 8, async (i) => {
      const res = await api(at(i).url, 'POST', '/api/v1/instances', {
        company_id: 'failover',
        provider: 'simulator',
        name: `fo-${i}`,
      });
      if (res.status !== 201) throw new Error(`create failed: ${JSON.stringify(res.json)}`);
      ids[i] = res.json.instance.id;
      // Scanned through another replica: the command is forwarded to the owner.
      const scan = await api(at(i + 1).url, 'POST', `/api/v1/instances/${ids[i]}/simulate/scan`, {
        phone: `1555${String(1_000_000 + i)}`,
      });
      if (scan.status !== 200) throw new Error(`scan failed: ${JSON.stringify(scan.json)}`);
    });
    await until(
      'all instances connected',
      async () => {
        const page = await api(
          at(0).url,
          'GET',
          '/api/v1/instances?company_id=failover&auth_status=client_ready&limit=200',
        );
        return page.json.instances.length === count;
      },
      30_000,
    );
    log(`${count} instances connected`);

    // Messages accepted before the kill: one outbound (through a third replica) and one inbound per instance.
    const accepted: Array<{ instance: string; id: string }> = [];
    await pool(ids, 8, async (id, i) => {
      const sent = await api(at(i + 2).url, 'POST', `/api/v1/instances/${id}/messages`, {
        to: '+4915112345678',
        text: `before the kill ${i}`,
      });
      if (sent.status === 201) accepted.push({ instance: id, id: sent.json.message.id });
      const inbound = await api(at(i).url, 'POST', `/api/v1/instances/${id}/simulate/inbound`, {
        from: '+4915100000001',
        text: `inbound ${i}`,
      });
      if (inbound.status === 200) accepted.push({ instance: id, id: inbound.json.message_id });
    });
    log(`${accepted.length} messages accepted`);

    // Who runs what: wait until every instance is listed by exactly one replica.
    const owners = await until(
      'sessions settled',
      async () => {
        const views = await Promise.all(replicas.map((r) => view(r)));
        const all = views.flatMap((v) => v.sessions);
        return all.length === count && new Set(all).size === count ? views : null;
      },
      15_000,
    );
    const sessionsPerReplica = Object.fromEntries(replicas.map((r, i) => [r.id, owners[i].sessions.length]));
    const vi = owners.reduce(
      (best, v, i) => (v.sessions.length > owners[best].sessions.length ? i : best),
      0,
    );
    const victim = replicas[vi];
    const survivors = replicas.filter((r) => r !== victim);
    const victimSessions = new Set(owners[vi].sessions);

    // Poll every live replica while the takeover happens: one instance listed twice in a round is a red flag.
    let maxListedTogether = 1;
    const poller = (async () => {
      while (polling) {
        const views = await Promise.all(
          replicas
            .filter((r) => r.proc.exitCode === null && r.proc.signalCode === null)
            .map((r) => view(r).catch(() => null)),
        );
        const seen = new Map<string, number>();
        for (const v of views) for (const id of v?.sessions ?? []) seen.set(id, (seen.get(id) ?? 0) + 1);
        for (const c of seen.values()) maxListedTogether = Math.max(maxListedTogether, c);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const victimLog = (await view(victim, true)).simulator_connections ?? [];
    const exited = new Promise<void>((resolve) => victim.proc.once('exit', () => resolve()));
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await exited;
    log(`SIGKILL ${victim.id} running ${victimSessions.size} sessions`);

    const recoveredAt = await until(
      'sessions taken over',
      async () => {
        const views = await Promise.all(survivors.map((r) => view(r)));
        const running = new Set(views.flatMap((v) => v.sessions));
        return [...victimSessions].every((id) => running.has(id)) ? Date.now() : null;
      },
      ttlMs + 20_000,
    );
    const recoveryMs = recoveredAt - killedAt;
    log(`all ${victimSessions.size} sessions running again after ${recoveryMs} ms (TTL ${ttlMs} ms)`);

    // Once the new sessions are ready, a send to each moved instance goes through.
    await until(
      'moved sessions ready',
      async () => {
        const page = await api(
          survivors[0].url,
          'GET',
          '/api/v1/instances?company_id=failover&auth_status=client_ready&limit=200',
        );
        return page.json.instances.length === count;
      },
      15_000,
    );
    let sentAfter = 0;
    await pool([...victimSessions], 8, async (id, i) => {
      const res = await api(survivors[i % survivors.length].url, 'POST', `/api/v1/instances/${id}/messages`, {
        to: '+4915112345678',
        text: 'after the kill',
      });
      if (res.status === 201) sentAfter++;
    });

    const lost: string[] = [];
    await pool(accepted, 8, async (m) => {
      const res = await api(survivors[0].url, 'GET', `/api/v1/instances/${m.instance}/messages/${m.id}`);
      if (res.status !== 200) lost.push(m.id);
    });

    polling = false;
    await poller;
    const logs = new Map<string, LogEntry[]>([[victim.id, victimLog]]);
    for (const r of survivors) logs.set(r.id, (await view(r, true)).simulator_connections ?? []);
    const overlaps = findOverlaps(logs, new Map([[victim.id, killedAt]]));
    return {
      schema,
      victim: victim.id,
      moved: victimSessions.size,
      killedAt,
      recoveryMs,
      ttlMs,
      overlaps,
      maxListedTogether,
      accepted: accepted.length,
      lost,
      sentAfter,
      sessionsPerReplica,
    };
  } catch (err) {
    for (const r of replicas) log(`--- ${r.id} output ---\n${r.output.slice(-20).join('\n')}`);
    throw err;
  } finally {
    polling = false;
    await Promise.all(replicas.map((r) => stopReplica(r)));
    const client = new pg.Client({ connectionString: opts.databaseUrl });
    await client.connect().then(
      () => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end()),
      () => {},
    );
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const out = (line: string) => process.stdout.write(`${line}\n`);
  runFailover({
    databaseUrl,
    redisUrl: process.env.REDIS_URL,
    replicas: arg('replicas', 3),
    instances: arg('instances', 50),
    ttlMs: arg('ttl', 3000),
    renewMs: arg('renew', 500),
    log: out,
  })
    .then((r) => {
      out(`failover: ${r.moved} sessions of ${r.victim} running again ${r.recoveryMs} ms after SIGKILL`);
      out(`  lease TTL ${r.ttlMs} ms, budget TTL + 2 s = ${r.ttlMs + 2000} ms`);
      out(`  overlapping sessions: ${r.overlaps.length}, messages lost: ${r.lost.length} of ${r.accepted}`);
      out(`  sessions before the kill: ${JSON.stringify(r.sessionsPerReplica)}`);
      process.exit(r.overlaps.length || r.lost.length ? 1 : 0);
    })
    .catch((err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}
