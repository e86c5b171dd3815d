// Load generator for bursts of concurrent users, in its own process (as autocannon is for send-throughput).
// Child mode (`--child`): reads {url, keys, qr} as JSON on stdin, fires every user at once, prints the
// milliseconds each took to reach its QR as one JSON line. The parent side is `runBurst`.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export interface BurstInput {
  url: string;
  /** One bearer key per user. */
  keys: string[];
  /** True: a user is done when its body carries a QR (`method: 'qr'` and a `qrCode`); false: any 200. */
  qr: boolean;
}

export interface BurstOutput {
  ms: number[];
  retries: number;
  /** A QR data URL one user received (to build the baseline's payload), or ''. */
  qr_sample: string;
}

const SELF = fileURLToPath(import.meta.url);

/** Runs one burst in a child process (the load never shares the server's event loop). */
export async function runBurst(input: BurstInput): Promise<BurstOutput> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--child'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += String(d);
  });
  child.stdin.end(JSON.stringify(input));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = out.trim().split('\n').pop();
  if (code !== 0 || !line) throw new Error(`burst child failed (${code})`);
  return JSON.parse(line) as BurstOutput;
}

async function child(): Promise<void> {
  let raw = '';
  for await (const chunk of process.stdin) raw += String(chunk);
  const input = JSON.parse(raw) as BurstInput;
  let retries = 0;
  let qrSample = '';
  const ms = await Promise.all(
    input.keys.map(async (key) => {
      const t0 = performance.now();
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(input.url, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
        const body = (await res.json()) as Record<string, unknown>;
        const done =
          res.status === 200 && (!input.qr || (body.method === 'qr' && typeof body.qrCode === 'string'));
        if (done) {
          if (input.qr && !qrSample) qrSample = body.qrCode as string;
          return performance.now() - t0;
        }
        if (attempt > 200)
          throw new Error(`no QR after ${attempt} tries: ${res.status} ${JSON.stringify(body)}`);
        retries++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }),
  );
  process.stdout.write(`${JSON.stringify({ ms, retries, qr_sample: qrSample } satisfies BurstOutput)}\n`);
}

if (process.argv.includes('--child')) {
  child().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
