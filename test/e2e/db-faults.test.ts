// Database faults: terminated connections under inbound load, and a database outage (with a SIGKILL while messages
// wait in the spool) — no crash, every acknowledged inbound message stored exactly once after recovery.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/gateway.js';
import { freePort, type GatewayProcess, spawnGateway } from '../support/process.js';
import { requireService } from '../support/services.js';

// Runs in the PostgreSQL pass only (vitest.config.ts), like crash-delivery.test.ts.
const SHARED_URL = process.env.TEST_DATABASE_URL!;
// The outage test runs its own throwaway cluster with the server binaries (initdb, pg_ctl).
const pgBin = await requireService('postgres-bin');
const ADMIN = 'sb_admin_e2e_dbfaults_0123456789abcdef';
const H = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const withParam = (url: string, kv: string) => `${url}${url.includes('?') ? '&' : '?'}${kv}`;

const baseEnv = (dataDir: string, schema: string): Record<string, string> => ({
  ADMIN_API_KEY: ADMIN,
  DATA_DIR: dataDir,
  DATABASE_SCHEMA: schema,
  LOG_LEVEL: 'warn',
  SIMULATOR_ACK_DELAY_MS: '0',
  RATE_LIMIT_MAX_REQUESTS: '1000000',
});

async function api(gw: GatewayProcess, method: string, path: string, body?: unknown) {
  const r = await fetch(`${gw.url}${path}`, {
    method,
    headers: H,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : null };
}

/** A company with `n` connected simulator instances; returns their ids. */
async function setup(gw: GatewayProcess, n: number): Promise<string[]> {
  expect((await api(gw, 'POST', '/api/v1/companies', { id: 'dbf', name: 'dbf' })).status).toBe(201);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = await api(gw, 'POST', '/api/v1/instances', { company_id: 'dbf', provider: 'simulator' });
    ids.push(c.json.instance.id);
    const scan = await api(gw, 'POST', `/api/v1/instances/${c.json.instance.id}/simulate/scan`, {
      phone: `1555000${1000 + i}`,
    });
    expect(scan.status).toBe(200);
  }
  return ids;
}

/** Sends inbound messages from `concurrency` loops until stopped; records what was acknowledged (2xx). */
function inboundLoad(target: () => GatewayProcess, ids: string[], concurrency: number, tag: string) {
  const acked = new Set<string>();
  const statuses = new Map<number, number>();
  let seq = 0;
  let stop = false;
  const loop = async () => {
    while (!stop) {
      const n = seq++;
      const messageId = `${tag}-${n}`;
      try {
        const r = await fetch(`${target().url}/api/v1/instances/${ids[n % ids.length]}/simulate/inbound`, {
          method: 'POST',
          headers: H,
          body: JSON.stringify({ from: `1415555${2000 + (n % 50)}`, text: messageId, message_id: messageId }),
        });
        await r.arrayBuffer();
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 200 && r.status < 300) acked.add(messageId);
        else await sleep(20);
      } catch {
        // The process is being killed or restarted: nothing was acknowledged.
        await sleep(20);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    acked,
    statuses,
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

/** message_id → number of stored rows, and → number of `message` events, for the given ids. */
async function stored(url: string, schema: string, ids: string[]) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const rows = await c.query<{ message_id: string; n: number }>(
      `SELECT message_id, count(*)::int AS n FROM "${schema}".messages WHERE message_id = ANY($1) GROUP BY 1`,
      [ids],
    );
    const events = await c.query<{ message_id: string; n: number }>(
      `SELECT data->'message'->>'message_id' AS message_id, count(*)::int AS n FROM "${schema}".events
       WHERE type = 'message' AND data->'message'->>'message_id' = ANY($1) GROUP BY 1`,
      [ids],
    );
    return {
      rows: new Map(rows.rows.map((r) => [r.message_id, r.n])),
      events: new Map(events.rows.map((r) => [r.message_id, r.n])),
    };
  } finally {
    await c.end();
  }
}

function expectAllStoredOnce(acked: Set<string>, s: Awaited<ReturnType<typeof stored>>) {
  const missing = [...acked].filter((id) => s.rows.get(id) !== 1);
  const eventsNotOnce = [...acked].filter((id) => s.events.get(id) !== 1);
  expect(missing).toEqual([]);
  expect(eventsNotOnce).toEqual([]);
}

describe('terminated connections under inbound load (shared PostgreSQL)', () => {
  let dataDir = '';
  const schema = `t_${randomBytes(6).toString('hex')}`;
  // Our sessions carry this name; only they are ever terminated.
  const appName = `sb-dbf-${randomBytes(5).toString('hex')}`;
  let gw: GatewayProcess | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-dbf-kill-'));
  });

  afterAll(async () => {
    gw?.child.kill('SIGKILL');
    await gw?.exited;
    rmSync(dataDir, { recursive: true, force: true });
    const c = new pg.Client({ connectionString: SHARED_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  });

  it('pg_terminate_backend of the gateway’s own connections: no crash, no 500, every acknowledged message stored once', {
    timeout: 240_000,
  }, async () => {
    gw = await spawnGateway(
      { ...baseEnv(dataDir, schema), DATABASE_URL: withParam(SHARED_URL, `application_name=${appName}`) },
      120_000,
    );
    const ids = await setup(gw, 4);
    const admin = new pg.Client({ connectionString: SHARED_URL });
    await admin.connect();
    const load = inboundLoad(() => gw!, ids, 8, 'kill');
    let terminated = 0;
    try {
      // At least ten rounds of kills, and on until enough traffic went through them (the machine may be slow).
      const deadline = Date.now() + 60_000;
      for (let k = 0; k < 10 || (load.acked.size < 60 && Date.now() < deadline); k++) {
        await sleep(300);
        const r = await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
          [appName],
        );
        terminated += r.rowCount ?? 0;
      }
      await sleep(500);
    } finally {
      await load.stop();
      await admin.end();
    }
    process.stderr.write(
      `db-faults/terminate: terminated=${terminated} acked=${load.acked.size} statuses=${JSON.stringify([...load.statuses])}\n`,
    );
    expect(terminated).toBeGreaterThan(0);
    expect(gw.child.exitCode).toBeNull();
    expect(gw.output()).not.toMatch(/Unhandled 'error' event|uncaught/i);
    expect(load.statuses.get(500) ?? 0).toBe(0);
    expect(load.acked.size).toBeGreaterThanOrEqual(60);
    // Anything that had to wait in the spool is replayed; then every acknowledged message is there, once.
    await eventually(async () => (await api(gw!, 'GET', '/ready')).json?.spooled === 0, 30_000);
    expectAllStoredOnce(load.acked, await stored(SHARED_URL, schema, [...load.acked]));
  });
});

/** A throwaway PostgreSQL cluster on a temp dir and a free port, run as the `postgres` user. */
class ThrowawayPostgres {
  dir = '';
  port = 0;
  private readonly bin = pgBin.target;

  private run(args: string[]): void {
    const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
    const [cmd, ...rest] = [...asPostgres, ...args];
    execFileSync(cmd!, rest, { stdio: 'pipe', timeout: 60_000 });
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async init(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'sb-dbf-pg-'));
    this.port = await freePort();
    if (process.getuid?.() === 0) {
      chownSync(this.dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), 0);
      chmodSync(this.dir, 0o700);
    }
    this.run([
      `${this.bin}/initdb`,
      '-D',
      join(this.dir, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
  }

  start(): void {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    this.run([
      `${this.bin}/pg_ctl`,
      '-D',
      join(this.dir, 'data'),
      '-o',
      opts,
      '-l',
      join(this.dir, 'log'),
      '-w',
      'start',
    ]);
  }

  stop(): void {
    this.run([`${this.bin}/pg_ctl`, '-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  remove(): void {
    if (!this.dir) return;
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe.skipIf(!pgBin.available)('a database outage long enough to spool (throwaway PostgreSQL)', () => {
  const db = new ThrowawayPostgres();
  let dataDir = '';
  const schema = 'sb';
  let gw: GatewayProcess | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-dbf-outage-'));
  });

  afterAll(async () => {
    gw?.child.kill('SIGKILL');
    await gw?.exited;
    db.remove();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 during the outage, spools acknowledged messages, replays them at recovery and after a SIGKILL', {
    timeout: 300_000,
  }, async () => {
    await db.init();
    db.start();
    const env = { ...baseEnv(dataDir, schema), DATABASE_URL: db.url };
    gw = await spawnGateway(env, 120_000);
    const ids = await setup(gw, 3);
    const acked = new Set<string>();
    const keep = (load: ReturnType<typeof inboundLoad>) => {
      for (const id of load.acked) acked.add(id);
    };

    // Traffic before the outage (also warms the simulator route's view of the instances).
    let load = inboundLoad(() => gw!, ids, 4, 'before');
    await eventually(() => load.acked.size >= 50, 30_000);
    await load.stop();
    keep(load);

    // Outage 1, same process throughout: requests get 503, inbound is acknowledged from the spool.
    db.stop();
    load = inboundLoad(() => gw!, ids, 4, 'outage1');
    await eventually(() => load.acked.size >= 50, 30_000);
    const list = await api(gw, 'GET', '/api/v1/instances');
    expect(list.status).toBe(503);
    expect(list.json.error.code).toBe('SB_ERR_UNAVAILABLE');
    expect(Number(list.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await api(gw, 'GET', '/health')).status).toBe(200);
    const ready = await api(gw, 'GET', '/ready');
    expect(ready.status).toBe(503);
    expect(ready.json).toMatchObject({ status: 'not_ready', reason: 'database unreachable' });
    expect(ready.json.spooled).toBeGreaterThan(0);
    const metrics = await (await fetch(`${gw.url}/metrics`, { headers: H })).text();
    expect(metrics).toMatch(/switchboard_inbound_spool_messages_total\{result="spooled"\} [1-9]/);
    expect(metrics).toMatch(/switchboard_inbound_spool_pending [1-9]/);
    await load.stop();
    keep(load);
    expect(load.statuses.get(500) ?? 0).toBe(0);
    db.start();
    await eventually(async () => (await api(gw!, 'GET', '/ready')).status === 200, 60_000);
    await eventually(async () => (await api(gw!, 'GET', '/ready')).json.spooled === 0, 60_000);
    const replayedMetrics = await (await fetch(`${gw.url}/metrics`, { headers: H })).text();
    expect(replayedMetrics).toMatch(/switchboard_inbound_spool_messages_total\{result="replayed"\} [1-9]/);
    expectAllStoredOnce(acked, await stored(db.url, schema, [...acked]));

    // Outage 2, and the gateway is SIGKILLed while messages wait in the spool: the next start replays them.
    db.stop();
    load = inboundLoad(() => gw!, ids, 4, 'outage2');
    await eventually(() => load.acked.size >= 50, 30_000);
    gw.child.kill('SIGKILL');
    await gw.exited;
    await load.stop();
    keep(load);
    db.start();
    gw = await spawnGateway(env, 120_000);
    expect((await api(gw, 'GET', '/ready')).json.spooled).toBe(0);
    process.stderr.write(`db-faults/outage: acked=${acked.size}\n`);
    expect(gw.output()).not.toMatch(/Unhandled 'error' event/);
    expectAllStoredOnce(acked, await stored(db.url, schema, [...acked]));
  });
});
