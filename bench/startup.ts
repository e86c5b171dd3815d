// Start-up time: process spawn to the first 200 from /ready, for the compiled server (`node dist/src/main.js`) and the
// TypeScript sources under the loader (`node --import tsx src/main.ts`), alternated in the same run on one database.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { buildState, ROOT, serverEntry } from '../bin/entry.js';
import { freePort } from '../test/support/process.js';
import {
  BENCH_ADMIN_KEY,
  databaseUrl,
  machine,
  main,
  percentile,
  progress,
  QUICK,
  report,
  round,
} from './support.js';

type Mode = 'dist' | 'tsx';

/** Resident set of a process and its descendants (KB) and how many processes that is (Linux /proc). */
function treeRss(pid: number): { rss_kb: number; processes: number } {
  // Children of every thread: a loader hook runs in a worker thread, whose children are listed under its own task.
  const children = (p: number): number[] => {
    try {
      return readdirSync(`/proc/${p}/task`).flatMap((task) => {
        const list = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        return list ? list.split(/\s+/).map(Number) : [];
      });
    } catch {
      return [];
    }
  };
  let rss = 0;
  let n = 0;
  const walk = (p: number) => {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      rss += Number(m?.[1] ?? 0);
      n += 1;
    } catch {
      return;
    }
    for (const c of children(p)) walk(c);
  };
  walk(pid);
  return { rss_kb: rss, processes: n };
}

interface Start {
  ready_ms: number;
  rss_kb: number;
  processes: number;
  stop_ms: number;
}

/** Starts the server in `mode`, waits for /ready, samples its process tree, stops it with SIGTERM. */
async function startOnce(mode: Mode, env: Record<string, string>): Promise<Start> {
  const port = await freePort();
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...serverEntry({ mode }).args, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${mode}: exited early (${child.exitCode}): ${err}`);
    const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (performance.now() - t0 > 120_000) throw new Error(`${mode}: not ready in 120 s: ${err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const ready = performance.now() - t0;
  const tree = treeRss(child.pid ?? 0);
  const s0 = performance.now();
  child.kill('SIGTERM');
  await exited;
  return { ready_ms: ready, ...tree, stop_ms: performance.now() - s0 };
}

const summary = (runs: Start[]) => ({
  ready_p50_ms: round(
    percentile(
      runs.map((r) => r.ready_ms),
      50,
    ),
    0,
  ),
  ready_min_ms: round(Math.min(...runs.map((r) => r.ready_ms)), 0),
  ready_max_ms: round(Math.max(...runs.map((r) => r.ready_ms)), 0),
  rss_mb: round(
    percentile(
      runs.map((r) => r.rss_kb),
      50,
    ) / 1024,
    0,
  ),
  processes: Math.max(...runs.map((r) => r.processes)),
  stop_p50_ms: round(
    percentile(
      runs.map((r) => r.stop_ms),
      50,
    ),
    0,
  ),
});

main(async () => {
  if (buildState() !== 'current') {
    progress('startup: dist/ is missing or stale; building it first');
    const b = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('the build failed');
  }
  const url = databaseUrl();
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-bench-startup-'));
  const env: Record<string, string> = url
    ? { DATABASE_URL: url, DATABASE_SCHEMA: schema, ADMIN_API_KEY: BENCH_ADMIN_KEY, SIMULATOR: 'on' }
    : { DATABASE_URL: '', DATA_DIR: dataDir, ADMIN_API_KEY: BENCH_ADMIN_KEY, SIMULATOR: 'on' };
  const rounds = QUICK ? 3 : 6;
  const runs: Record<Mode, Start[]> = { dist: [], tsx: [] };
  try {
    progress('startup: warm-up start (creates and migrates the database, warms the file cache)');
    await startOnce('dist', env);
    await startOnce('tsx', env);
    for (let i = 0; i < rounds; i++) {
      for (const mode of (i % 2 ? ['tsx', 'dist'] : ['dist', 'tsx']) as Mode[]) {
        const r = await startOnce(mode, env);
        runs[mode].push(r);
        progress(`startup: ${mode} ready in ${Math.round(r.ready_ms)} ms, ${r.processes} process(es)`);
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    if (url) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
  }
  const dist = summary(runs.dist);
  const tsx = summary(runs.tsx);
  report({
    name: 'startup',
    ...dist,
    rounds,
    baseline: tsx,
    // Latency: baseline / ours (above 1: the build starts faster than the loader).
    ratio: round(tsx.ready_p50_ms / dist.ready_p50_ms, 2),
    goal: 'node dist ready faster than tsx src',
    met: dist.ready_p50_ms < tsx.ready_p50_ms,
    machine: machine(url ? 'postgres' : 'pglite'),
  });
});
