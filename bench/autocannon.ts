// Runs autocannon in a child process (so the load generator never shares the server's event loop) and parses it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface LoadResult {
  /** Mean requests per second over the run (2xx and non-2xx). */
  rps: number;
  p50_ms: number;
  p99_ms: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  durationS: number;
  /** Several requests that each connection cycles through (autocannon's HAR input); `url` gives the origin. */
  requests?: Array<{ url: string; method: string; headers: Record<string, string>; body?: string }>;
}

const require = createRequire(import.meta.url);

/** The autocannon CLI entry point from node_modules. */
function autocannonBin(): string {
  return join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
}

/** Runs one autocannon load and returns its summary (throws when autocannon fails). */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const args = [autocannonBin(), '-j', '-n', '-c', String(o.connections), '-d', String(o.durationS)];
  args.push('-m', o.method ?? 'GET');
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}=${v}`);
  if (o.body !== undefined) args.push('-b', o.body);
  let tmp: string | null = null;
  if (o.requests) {
    tmp = mkdtempSync(join(tmpdir(), 'sb-bench-'));
    const har = {
      log: {
        entries: o.requests.map((r) => ({
          request: {
            method: r.method,
            url: r.url,
            headers: Object.entries(r.headers).map(([name, value]) => ({ name, value })),
            ...(r.body !== undefined ? { postData: { mimeType: 'application/json', text: r.body } } : {}),
          },
        })),
      },
    };
    writeFileSync(join(tmp, 'load.har'), JSON.stringify(har));
    args.push('--har', join(tmp, 'load.har'));
  }
  args.push(o.url);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += String(d);
  });
  child.stderr.on('data', (d) => {
    err += String(d);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const line = out
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new Error(`autocannon failed (${code}): ${err.slice(-500)}`);
  const r = JSON.parse(line) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  return {
    rps: r.requests.average,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}
