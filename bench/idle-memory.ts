// Benchmark: RSS of an idle gateway after start (no instances), embedded PGlite and PostgreSQL, each its own process.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { serverEntry } from '../bin/entry.js';
import { BENCH_ADMIN_KEY, databaseUrl, machine, main, progress, QUICK, report, round } from './support.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const GOAL_MB = 350;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};

/** What `npm start` runs: the compiled build when it is current (run `npm run build` first), else tsx. */
const ENTRY = serverEntry();

/**
 * Starts `switchboard serve` as `npm start` does (the server process the launcher spawns) with `env`, waits for /ready, lets it idle, and returns
 * its RSS in MB (the largest of a few samples over the idle period).
 */
async function idleRss(env: Record<string, string>, idleS: number): Promise<number> {
  const port = await freePort();
  const child = spawn(process.execPath, [...ENTRY.args, 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_API_KEY: BENCH_ADMIN_KEY,
      LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error('gateway not ready after 120 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    let peak = 0;
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, (idleS * 1000) / 4));
      peak = Math.max(peak, rssMb(child.pid!));
    }
    return peak;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

main(async () => {
  const idleS = QUICK ? 4 : 10;
  const dir = mkdtempSync(join(tmpdir(), 'sb-idle-'));
  try {
    progress('idle-memory: embedded PGlite (PGLITE_SHARED_BUFFERS_MB default)');
    const embedded = await idleRss({ DATA_DIR: join(dir, 'a') }, idleS);
    progress('idle-memory: embedded PGlite with PostgreSQL’s default shared_buffers (128 MB)');
    const embedded128 = await idleRss({ DATA_DIR: join(dir, 'b'), PGLITE_SHARED_BUFFERS_MB: '128' }, idleS);
    let postgres: number | null = null;
    const url = databaseUrl();
    if (url) {
      const schema = `bench_${randomBytes(6).toString('hex')}`;
      progress('idle-memory: PostgreSQL');
      try {
        postgres = await idleRss(
          { DATABASE_URL: url, DATABASE_SCHEMA: schema, DATA_DIR: join(dir, 'c') },
          idleS,
        );
      } finally {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      }
    }
    report({
      name: 'idle-memory',
      embedded_rss_mb: round(embedded, 1),
      postgres_rss_mb: postgres === null ? null : round(postgres, 1),
      idle_s: idleS,
      note: `RSS of the \`switchboard serve\` process (${ENTRY.built ? 'the compiled build' : 'TypeScript through tsx: the build was not current'}) after /ready, no instances, largest of 4 samples while idle`,
      compiled: ENTRY.built,
      baseline: {
        what: 'the same embedded gateway with PostgreSQL’s default shared_buffers (PGLITE_SHARED_BUFFERS_MB=128)',
        embedded_rss_mb: round(embedded128, 1),
      },
      ratio: round(embedded128 / embedded, 3),
      goal: `embedded idle RSS <= ${GOAL_MB} MB`,
      met: embedded <= GOAL_MB,
      machine: machine(url ? 'pglite+postgres' : 'pglite'),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
