// The benchmark suite: runs each benchmark in its own process, prints their JSON, writes docs/performance.md's table.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const HERE = dirname(fileURLToPath(import.meta.url));
const DOC = join(HERE, '..', 'docs', 'performance.md');
const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';
const DEFAULT_DB = 'postgres://postgres@127.0.0.1:5432/test';

/** The suite, in order; a file that does not exist (yet) is skipped. */
export const BENCHMARKS = [
  'status-latency',
  'send-throughput',
  'inbound-throughput',
  'density',
  'density-baileys',
  'pool-connect',
  'webhook-throughput',
  'sink-throughput',
  'failover-json',
  'startup',
  'idle-memory',
] as const;

type Result = Record<string, unknown> & { name: string };

const quick = process.argv.includes('--quick');
const writeDoc = !process.argv.includes('--no-doc');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));

/** BENCH_DATABASE_URL / TEST_DATABASE_URL, else the local default when it answers, else undefined (PGlite). */
async function pickDatabase(): Promise<string | undefined> {
  if (process.argv.includes('--pglite')) return undefined;
  const given = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  if (given) return given;
  const client = new pg.Client({ connectionString: DEFAULT_DB, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return DEFAULT_DB;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs one benchmark file; resolves with its JSON object (or an error record). */
function runOne(file: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Result> {
  const name = file === 'failover-json' ? 'failover' : file;
  return new Promise((resolve) => {
    const args = ['--expose-gc', '--import', 'tsx', join(HERE, `${file}.ts`), ...(quick ? ['--quick'] : [])];
    const child = spawn(process.execPath, args, {
      cwd: join(HERE, '..'),
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.trim().startsWith('{'));
      if (line) {
        try {
          resolve(JSON.parse(line) as Result);
          return;
        } catch {
          // Fall through to the error record.
        }
      }
      resolve({
        name,
        error: signal ? `killed by ${signal} (timeout ${timeoutMs} ms)` : `exit code ${code}`,
      });
    });
  });
}

const num = (v: unknown, unit = ''): string =>
  typeof v === 'number' && Number.isFinite(v) ? `${v.toLocaleString('en-US')}${unit}` : '–';

/** One table row per result: the headline figure, the same-run baseline, ratio, goal, met. */
function row(r: Result): string[] {
  const b = (r.baseline ?? {}) as Record<string, unknown>;
  if (r.error) return [r.name, `failed: ${String(r.error)}`, '', '', '', '✗'];
  if (r.skipped) return [r.name, `skipped: ${String(r.reason)}`, '', '', '', '–'];
  let figure: string;
  let baseline: string;
  switch (r.name) {
    case 'status-latency': {
      const byDb = Object.values((r.by_db ?? {}) as Record<string, Record<string, number>>);
      const by = byDb.length
        ? byDb
        : [{ ...(r as Record<string, number>), db: (r.machine as Record<string, number>)?.db }];
      figure = by
        .map(
          (f) =>
            `${f.db}: WS p50 ${num(f.ws_p50_ms, ' ms')} / p99 ${num(f.ws_p99_ms, ' ms')}, row p50 ${num(f.row_p50_ms, ' ms')} / p99 ${num(f.row_p99_ms, ' ms')} (${num(f.samples)} samples)`,
        )
        .join('; ');
      baseline = Object.values(by)
        .map(
          (f) =>
            `${f.db}: bare status transaction p50 ${num(f.base_p50_ms, ' ms')} / p99 ${num(f.base_p99_ms, ' ms')}`,
        )
        .join('; ');
      break;
    }
    case 'send-throughput':
      figure = `${num(r.rps)} req/s, p99 ${num(r.p99_ms, ' ms')} (${num(r.instances)} instances); one instance ${num(r.one_instance_rps)} req/s; ${num(r.statements_per_send)} SQL statements/send${dbStates(r.db_connection_states)}`;
      baseline = `bare Fastify ${num(b.rps)} req/s, p99 ${num(b.p99_ms, ' ms')}; same SQL alone ${num(b.db_ceiling_rps)} sends/s`;
      break;
    case 'inbound-throughput':
      figure = `${num(r.stored_per_s)} msg/s stored (${num(r.messages)} msgs, ${num(r.instances)} instances)${
        r.webhook
          ? `; webhooks ${num(r.delivered_per_s)} msg/s, commit→receipt p50 ${num(r.lag_p50_ms, ' ms')} / p99 ${num(r.lag_p99_ms, ' ms')}`
          : ''
      }; ${num(r.statements_per_message)} SQL statements/message${
        r.batch_avg ? `, ${num(r.batch_avg)} messages per group commit on average` : ''
      }${dbStates(r.db_connection_states)}`;
      baseline = `plain multi-row INSERT ${num(b.rows_per_s)} rows/s`;
      break;
    case 'density': {
      const sizes = (r.sizes ?? []) as Array<Record<string, number>>;
      figure = sizes
        .map(
          (s) =>
            `${num(s.sessions)}: heap ${num(s.heap_kb, ' KB')}, RSS ${num(s.rss_kb, ' KB')}, overhead heap ${num(s.overhead_heap_kb, ' KB')}`,
        )
        .join('; ');
      baseline = `bare simulator session heap ${num(b.heap_kb_per_session, ' KB')}, RSS ${num(b.rss_kb_per_session, ' KB')}`;
      break;
    }
    case 'density-baileys':
      figure = `${num(r.rss_per_session_kb, ' KB')} RSS, heap ${num(r.heap_per_session_kb, ' KB')}, heap + external ${num(r.retained_per_session_kb, ' KB')} per idle logged-in Baileys session (${num(r.sessions)} sessions, emulator); login ${num(r.login_s_per_session, ' s')}/session`;
      baseline = `simulator session in the gateway RSS ${num(b.rss_kb_per_session, ' KB')}, heap ${num(b.heap_kb_per_session, ' KB')}; WAHA NOWEB published 60–80 MB (ratio = 60 MB / ours)`;
      break;
    case 'pool-connect':
      figure = `connect→QR p50 ${num(r.p50_ms, ' ms')} / p99 ${num(r.p99_ms, ' ms')} (${num(r.users)} users × ${num(r.rounds)})`;
      baseline = `bare Fastify same payload p50 ${num(b.p50_ms, ' ms')} / p99 ${num(b.p99_ms, ' ms')}`;
      break;
    case 'webhook-throughput':
      figure = `${num(r.deliveries_per_s)} deliveries/s (${num(r.delivered)} of ${num(r.events)} events), commit→receipt p50 ${num(r.lag_p50_ms, ' ms')} / p99 ${num(r.lag_p99_ms, ' ms')}`;
      baseline = `direct POSTs, no outbox: ${num(b.posts_per_s)} posts/s`;
      break;
    case 'startup':
      figure = `node dist: /ready after p50 ${num(r.ready_p50_ms, ' ms')} (${num(r.ready_min_ms)}–${num(r.ready_max_ms, ' ms')}), ${num(r.processes)} process(es), RSS ${num(r.rss_mb, ' MB')}`;
      baseline = `tsx src: p50 ${num(b.ready_p50_ms, ' ms')} (${num(b.ready_min_ms)}–${num(b.ready_max_ms, ' ms')}), ${num(b.processes)} process(es), RSS ${num(b.rss_mb, ' MB')}`;
      break;
    case 'sink-throughput':
      figure = `RabbitMQ ${num(r.rabbitmq_deliveries_per_s)} / NATS JetStream ${num(r.nats_deliveries_per_s)} deliveries/s (confirmed, from the outbox), webhook ${num(r.webhook_deliveries_per_s)} deliveries/s; ${num(r.events_per_target)} events per target`;
      baseline = `direct publishes with confirms, no outbox: RabbitMQ ${num(b.rabbitmq_direct_per_s)}/s, NATS ${num(b.nats_direct_per_s)}/s`;
      break;
    case 'idle-memory':
      figure = `embedded (PGlite) ${num(r.embedded_rss_mb, ' MB')} RSS; PostgreSQL ${num(r.postgres_rss_mb, ' MB')} RSS (idle gateway after start, no instances, own processes)`;
      baseline = `embedded with PostgreSQL's default shared_buffers (128 MB): ${num(b.embedded_rss_mb, ' MB')}`;
      break;
    case 'failover':
      figure = `${num(r.moved)} sessions back ${num(r.recovery_ms, ' ms')} after SIGKILL; overlaps ${num(r.overlaps)}, lost ${num(r.lost)}`;
      baseline = `lease TTL ${num(b.ttl_ms, ' ms')}`;
      break;
    default: {
      const skip = new Set(['name', 'baseline', 'ratio', 'goal', 'met', 'machine']);
      figure = Object.entries(r)
        .filter(([k, v]) => !skip.has(k) && typeof v !== 'object')
        .map(([k, v]) => `${k} ${typeof v === 'number' ? num(v) : String(v)}`)
        .join(', ');
      baseline = Object.entries(b)
        .filter(([, v]) => typeof v !== 'object')
        .map(([k, v]) => `${k} ${typeof v === 'number' ? num(v) : String(v)}`)
        .join(', ');
    }
  }
  return [r.name, figure, baseline, num(r.ratio), String(r.goal ?? ''), r.met ? '✓' : '✗'];
}

/** "DB connections: 92 % waiting for the gateway in a transaction, …" from a db_connection_states object. */
function dbStates(v: unknown): string {
  const d = v as Record<string, number> | null | undefined;
  if (!d) return '';
  return `; DB connections ${num(d.idle_in_tx_pct, '%')} idle in transaction (waiting for the gateway), ${num(d.lock_wait_pct, '%')} lock waits, ${num(d.wal_wait_pct, '%')} WAL waits, ${num(d.active_pct, '%')} active`;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

const times = (a: number, b: number) => `${(a / b).toFixed(a / b < 2 ? 2 : 1)}×`;

/** For a missed goal: how far off, in words (generated, so it always matches the table). */
export function missedBy(r: Result): string | null {
  if (r.met || r.error || r.skipped) return null;
  const n = (k: string) => Number(r[k]);
  switch (r.name) {
    case 'status-latency': {
      const by = Object.values((r.by_db ?? {}) as Record<string, Record<string, number>>);
      const list = by.length ? by : [{ ...(r as Record<string, number>), db: 0 }];
      return list
        .filter((f) => f.ws_p99_ms > 20)
        .map(
          (f) =>
            `${f.db ? `${f.db}: ` : ''}WS p99 ${num(f.ws_p99_ms, ' ms')} against ≤ 20 ms, over by ${num(round2(f.ws_p99_ms - 20), ' ms')} (${times(f.ws_p99_ms, 20)} the goal; p50 ${num(f.ws_p50_ms, ' ms')})`,
        )
        .join('; ')
        .concat('.');
    }
    case 'send-throughput':
      return `${num(n('ratio'))} of the bare Fastify rate against ≥ 0.25: needs ${times(0.25, n('ratio'))} more throughput.`;
    case 'inbound-throughput': {
      const parts = [];
      if (n('stored_per_s') < 5000)
        parts.push(
          `${num(n('stored_per_s'))} msg/s against ≥ 5,000 (${times(5000, n('stored_per_s'))} short)`,
        );
      if (n('ratio') < 0.3)
        parts.push(`${num(n('ratio'))} of plain INSERTs against ≥ 0.3 (${times(0.3, n('ratio'))} short)`);
      return `${parts.join('; ')}.`;
    }
    case 'density':
      return `gateway heap overhead ${num(n('overhead_heap_kb_per_session'), ' KB')} per session against ≤ 100 KB.`;
    case 'density-baileys':
      return `${num(n('rss_per_session_kb'), ' KB')} RSS, ${num(n('retained_per_session_kb'), ' KB')} heap + external per idle logged-in Baileys session against ≤ 5 MB (a non-positive figure is a failed measurement).`;
    case 'pool-connect': {
      const bare = Number((r.baseline as Record<string, unknown>)?.p99_ms);
      return `p99 ${num(n('p99_ms'), ' ms')} against ≤ 2 × the bare route's p99 ${num(bare, ' ms')} = ${num(round2(2 * bare), ' ms')}: over by ${num(round2(n('p99_ms') - 2 * bare), ' ms')} (${times(n('p99_ms'), bare)} the bare p99).`;
    }
    case 'idle-memory':
      return `embedded idle RSS ${num(n('embedded_rss_mb'), ' MB')} against ≤ 350 MB: over by ${num(round2(n('embedded_rss_mb') - 350), ' MB')}.`;
    default:
      return `goal "${String(r.goal)}" not met (ratio ${num(n('ratio'))}).`;
  }
}

/** The generated block: when, where, the table and the raw JSON. */
export function renderBlock(results: Result[], when: Date, mode: string): string {
  const m = (results.find((r) => r.machine)?.machine ?? {}) as Record<string, unknown>;
  const loads = results
    .map((r) => (r.machine as { load?: number } | undefined)?.load)
    .filter((l): l is number => typeof l === 'number');
  const load = loads.length ? `${Math.min(...loads)}–${Math.max(...loads)}` : '?';
  const lines = [
    START,
    `_Generated by \`npm run bench${mode === 'quick' ? ':quick' : ''}\` on ${when.toISOString()} — do not edit by hand._`,
    '',
    `Machine: ${String(m.cpus ?? '?')} × ${String(m.model ?? '?')}, ${String(m.mem ?? '?')} RAM, Node ${String(m.node ?? '?')}, database ${String(m.db ?? '?')}, 1-min load average during the run ${load}. Mode: ${mode}.`,
    '',
    '| Benchmark | Switchboard | Baseline (same run) | Ratio | Goal | Met |',
    '|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${row(r)
          .map((c) => c.replace(/\|/g, '\\|'))
          .join(' | ')} |`,
    ),
    '',
    ...(results.some((r) => missedBy(r))
      ? [
          'Missed goals, by how much (this run):',
          '',
          ...results.flatMap((r) => {
            const m = missedBy(r);
            return m ? [`- **${r.name}**: ${m}`] : [];
          }),
          '',
        ]
      : []),
    '<details><summary>Raw JSON (one object per benchmark)</summary>',
    '',
    '```json',
    ...results.map((r) => JSON.stringify(r)),
    '```',
    '',
    '</details>',
    END,
  ];
  return lines.join('\n');
}

/** Replaces the block between the markers (or appends it) in docs/performance.md. */
function writeTable(block: string): void {
  const text = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Performance\n\n';
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next =
    a >= 0 && b > a
      ? text.slice(0, a) + block + text.slice(b + END.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(DOC, next);
}

async function mainSuite(): Promise<void> {
  const url = await pickDatabase();
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.TEST_DATABASE_URL;
  if (url) env.BENCH_DATABASE_URL = url;
  else delete env.BENCH_DATABASE_URL;
  process.stderr.write(
    `[bench] database: ${url ? url.replace(/\/\/[^@]*@/, '//…@') : 'PGlite (in memory)'}\n`,
  );
  const results: Result[] = [];
  for (const file of BENCHMARKS) {
    if (only.length && !only.includes(file) && !(file === 'failover-json' && only.includes('failover')))
      continue;
    if (!existsSync(join(HERE, `${file}.ts`))) continue;
    if (file === 'failover-json' && !existsSync(join(HERE, 'failover.ts'))) continue;
    process.stderr.write(`[bench] ── ${file}${quick ? ' (quick)' : ''}\n`);
    const r = await runOne(file, env, quick ? 240_000 : 1_800_000);
    results.push(r);
    process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  if (writeDoc && results.length) {
    writeTable(renderBlock(results, new Date(), quick ? 'quick' : 'full'));
    process.stderr.write(`[bench] table written to ${DOC}\n`);
  }
  process.exit(results.some((r) => r.error) ? 1 : 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  void mainSuite();
}
