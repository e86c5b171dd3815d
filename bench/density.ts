// Benchmark: RSS and heap per idle simulator session at 1,000 / 5,000 / 10,000 sessions, gateway vs. bare provider.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProviderEvent, SessionContext } from '../src/ports/provider.js';
import { SimulatorNetwork } from '../src/providers/simulator/network.js';
import { SimulatorSession } from '../src/providers/simulator/session.js';
import {
  inParallel,
  machine,
  main,
  openBenchDb,
  progress,
  QUICK,
  report,
  round,
  startBenchGateway,
} from './support.js';

const GOAL_KB = 100;
const SELF = fileURLToPath(import.meta.url);

interface Sample {
  mode: 'gateway' | 'bare';
  sessions: number;
  heap_kb: number;
  rss_kb: number;
  db: string;
}

/** Heap and RSS after repeated full collections (needs --expose-gc). */
async function settledMemory(): Promise<{ heap: number; rss: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** Child: N idle connected sessions in a whole gateway (instances started by the supervisor). */
async function gatewayChild(n: number): Promise<Sample> {
  const db = await openBenchDb({ poolSize: 10 });
  const t = await startBenchGateway(db, { listen: false });
  try {
    await t.gw.store.companies.ensure('bench', 'bench');
    // Rows with a saved login, inserted in bulk: starting them restores the session without a QR.
    const rows = await db.driver.query<{ id: string }>(
      `INSERT INTO "${db.schema}".instances (company_id, name, provider, status, auth_status, desired_state, account)
       SELECT 'bench', 'd' || g, 'simulator', 'stopped', 'disconnected', 'running',
              '1555' || lpad(g::text, 7, '0') || '@s.whatsapp.net'
       FROM generate_series(1, $1::int) AS g RETURNING id::text AS id`,
      [n],
    );
    // Warm the code paths once so compiled code and caches are in the "before" figure.
    await t.gw.supervisor.start(rows[0].id);
    const before = await settledMemory();
    let done = 1;
    await inParallel(n - 1, 20, async (i) => {
      await t.gw.supervisor.start(rows[i + 1].id);
      if (++done % 1000 === 0) progress(`density: ${done}/${n} sessions`);
    });
    const [{ ready }] = await db.driver.query<{ ready: number }>(
      `SELECT count(*)::int AS ready FROM "${db.schema}".instances WHERE auth_status = 'client_ready'`,
    );
    if (ready !== n || t.gw.supervisor.size !== n) {
      throw new Error(`only ${ready} of ${n} sessions are client_ready (${t.gw.supervisor.size} live)`);
    }
    const after = await settledMemory();
    return {
      mode: 'gateway',
      sessions: n,
      heap_kb: (after.heap - before.heap) / 1024 / (n - 1),
      rss_kb: (after.rss - before.rss) / 1024 / (n - 1),
      db: db.kind,
    };
  } finally {
    await t.close();
    await db.close();
  }
}

/** Child: N bare simulator sessions (the provider alone, no gateway), logged in and idle. */
async function bareChild(n: number): Promise<Sample> {
  const net = new SimulatorNetwork({ qrRotateMs: 3_600_000 });
  const noop = { debug() {}, info() {}, warn() {}, error() {} };
  const make = (i: number) =>
    new SimulatorSession(
      {
        instanceId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        companyId: 'bench',
        settings: {},
        previous: {
          auth_status: 'disconnected',
          account: `1555${String(i).padStart(7, '0')}@s.whatsapp.net`,
        },
        logger: noop,
        emit: async (_e: ProviderEvent) => {},
      } satisfies SessionContext,
      net,
    );
  const keep: SimulatorSession[] = [make(0)];
  await keep[0].start();
  const before = await settledMemory();
  for (let i = 1; i < n; i++) {
    const s = make(i);
    await s.start();
    keep.push(s);
  }
  const after = await settledMemory();
  if (keep.length !== n) throw new Error('lost sessions');
  return {
    mode: 'bare',
    sessions: n,
    heap_kb: (after.heap - before.heap) / 1024 / (n - 1),
    rss_kb: (after.rss - before.rss) / 1024 / (n - 1),
    db: 'none',
  };
}

/** Runs one measurement in a fresh process (so one size never inherits another's heap). */
function child(mode: 'gateway' | 'bare', n: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--child', mode, String(n)], {
      cwd: join(dirname(SELF), '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += String(d);
    });
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{'))
        reject(new Error(`density child ${mode} ${n} failed (${code})`));
      else resolve(JSON.parse(line) as Sample);
    });
  });
}

main(async () => {
  const i = process.argv.indexOf('--child');
  if (i >= 0) {
    const mode = process.argv[i + 1];
    const n = Number(process.argv[i + 2]);
    const s = mode === 'bare' ? await bareChild(n) : await gatewayChild(n);
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  const sizes = QUICK ? [1000] : [1000, 5000, 10_000];
  const rows: Array<Record<string, number>> = [];
  let dbKind = 'pglite';
  for (const n of sizes) {
    progress(`density: ${n} sessions, bare provider`);
    const bare = await child('bare', n);
    progress(`density: ${n} sessions, whole gateway`);
    const gw = await child('gateway', n);
    dbKind = gw.db;
    rows.push({
      sessions: n,
      heap_kb: round(gw.heap_kb, 1),
      rss_kb: round(gw.rss_kb, 1),
      bare_heap_kb: round(bare.heap_kb, 1),
      bare_rss_kb: round(bare.rss_kb, 1),
      overhead_heap_kb: round(gw.heap_kb - bare.heap_kb, 1),
      overhead_rss_kb: round(gw.rss_kb - bare.rss_kb, 1),
    });
  }
  const worst = Math.max(...rows.map((r) => r.overhead_heap_kb));
  const largest = rows[rows.length - 1];
  report({
    name: 'density',
    sessions: largest.sessions,
    heap_kb_per_session: largest.heap_kb,
    rss_kb_per_session: largest.rss_kb,
    overhead_heap_kb_per_session: largest.overhead_heap_kb,
    overhead_rss_kb_per_session: largest.overhead_rss_kb,
    sizes: rows,
    note:
      dbKind === 'pglite'
        ? 'PGlite runs inside the gateway process: RSS includes the database; judge by heap'
        : 'goal judged on heap after full GCs; RSS deltas are indicative (allocator pages come and go)',
    baseline: {
      what: 'bare simulator sessions (the provider alone, no gateway), same sizes, own process',
      heap_kb_per_session: largest.bare_heap_kb,
      rss_kb_per_session: largest.bare_rss_kb,
      waha_published: 'NOWEB 60-80 MB, WEBJS ~400 MB per session (WAHA FAQ, not measured here)',
    },
    ratio: round(largest.bare_heap_kb / largest.heap_kb, 3),
    goal: `gateway heap overhead <= ${GOAL_KB} KB per idle session (every size)`,
    met: worst <= GOAL_KB,
    machine: machine(dbKind),
  });
});
