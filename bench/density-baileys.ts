// Benchmark: RSS and heap per idle, logged-in REAL Baileys session (whatsapp provider) against the local emulator.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const GOAL_KB = 5 * 1024;
const SELF = fileURLToPath(import.meta.url);
const ROOT = join(dirname(SELF), '..');
/** WAHA NOWEB's published figure (WAHA FAQ), per session, lower end. */
const WAHA_NOWEB_KB = 60 * 1024;
/** Idle time before each checkpoint (Baileys' post-login chatter settles). */
const IDLE_MS = QUICK ? 2_000 : 4_000;
/** Warm-up sessions, logged in before the first checkpoint and not counted. */
const WARM = 2;

/** Least-squares slope of y over x. */
function slope(xy: Array<[number, number]>): number {
  const n = xy.length;
  const mx = xy.reduce((a, [x]) => a + x, 0) / n;
  const my = xy.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of xy) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface Sample {
  sessions: number;
  /** Least-squares slope over the checkpoints, KB per session. */
  heap_kb: number;
  rss_kb: number;
  /** Slope of V8 heap + external (Buffers, ArrayBuffers): what the sessions retain, without the allocator's noise. */
  retained_kb: number;
  /** Last checkpoint minus first, ÷ sessions (KB). */
  heap_delta_kb: number;
  rss_delta_kb: number;
  checkpoints: Array<{ sessions: number; rss_mb: number; heap_mb: number; external_mb: number }>;
  login_s: number;
  db: string;
}

interface SimSample {
  sessions: number;
  heap_kb: number;
  rss_kb: number;
}

/** Heap and RSS after repeated full collections (needs --expose-gc). */
async function settledMemory(): Promise<{ heap: number; rss: number; external: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss, external: m.external };
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
async function until<T>(
  what: string,
  fn: () => Promise<T | null | undefined | false>,
  ms: number,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the emulator in its own process (its accounts, prekeys and Signal sessions stay out of our figure). */
async function startEmulator(): Promise<{
  url: string;
  controlUrl: string;
  rootPublicKey: string;
  proc: ChildProcess;
}> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/emulators/whatsapp/serve.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += String(d);
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      proc.stdout?.off('data', onData);
      try {
        resolve({
          ...(JSON.parse(out.slice(0, nl)) as { url: string; controlUrl: string; rootPublicKey: string }),
          proc,
        });
      } catch (err) {
        proc.kill();
        reject(err);
      }
    };
    proc.stdout?.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`emulator exited (${code}) before it was ready`)));
  });
}

/** Child: 1 warm-up + N whatsapp instances logged in through the emulator, idle; memory per session. */
async function baileysChild(n: number): Promise<Sample> {
  const emu = await startEmulator();
  try {
    return await measure(emu, n);
  } finally {
    emu.proc.kill('SIGTERM');
  }
}

async function measure(
  emu: { url: string; controlUrl: string; rootPublicKey: string },
  n: number,
): Promise<Sample> {
  const db = await openBenchDb({ poolSize: 10 });
  const t = await startBenchGateway(db, {
    listen: false,
    env: {
      WHATSAPP_WS_URL: emu.url,
      WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey,
      HEALTH_CHECK_INTERVAL_MS: '600000',
    },
  });
  const control = async (path: string, body: unknown) => {
    const res = await fetch(`${emu.controlUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`);
  };
  /** Creates one whatsapp instance, scans its QR at the emulator, waits for client_ready. */
  const login = async (i: number): Promise<string> => {
    const inst = await t.gw.store.instances.create({
      company_id: 'bench',
      provider: 'whatsapp',
      name: `wa-${i}`,
      type_instance: ['api'],
      settings: {},
      mcp_schema: {},
      desired_state: 'running',
    });
    await t.gw.supervisor.start(inst.id);
    const qr = await until(
      `QR of instance ${i}`,
      async () => (await t.gw.store.instances.get(inst.id))?.qr,
      60_000,
    );
    await control('/scan-qr', { qr, phone: `1555${String(3_000_000 + i).slice(-7)}` });
    await until(
      `instance ${i} client_ready`,
      async () => (await t.gw.store.instances.get(inst.id))?.auth_status === 'client_ready',
      120_000,
    );
    return inst.id;
  };
  try {
    await t.gw.store.companies.ensure('bench', 'bench');
    // Warm-up: two logins at once (as measured below), so Baileys, libsignal, the provider's code paths, the
    // thread pool and malloc arenas are loaded before the first checkpoint.
    progress('density-baileys: warm-up logins');
    await Promise.all([login(0), login(1)]);
    // Checkpoints every `step` sessions; the per-session figure is the least-squares slope over all of them, so one
    // noisy sample (V8 or malloc handing pages back to the OS) cannot flip the sign the way a two-point delta can.
    const step = Math.max(1, Math.round(n / (QUICK ? 2 : 5)));
    const points: Array<{ x: number; heap: number; rss: number; external: number }> = [];
    const checkpoint = async (x: number) => {
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const m = await settledMemory();
      points.push({ x, heap: m.heap / 1024, rss: m.rss / 1024, external: m.external / 1024 });
    };
    await checkpoint(0);
    let loginMs = 0;
    for (let done = 0; done < n; ) {
      const batch = Math.min(step, n - done);
      const first = done;
      const started = performance.now();
      await inParallel(batch, 2, async (i) => {
        await login(WARM + first + i);
      });
      loginMs += performance.now() - started;
      done += batch;
      progress(`density-baileys: ${done}/${n} logged in; idling ${IDLE_MS} ms`);
      await checkpoint(done);
    }
    const [{ ready }] = await db.driver.query<{ ready: number }>(
      `SELECT count(*)::int AS ready FROM "${db.schema}".instances WHERE auth_status = 'client_ready'`,
    );
    if (ready !== n + WARM || t.gw.supervisor.size !== n + WARM) {
      throw new Error(
        `only ${ready} of ${n + WARM} sessions are client_ready (${t.gw.supervisor.size} live)`,
      );
    }
    const first = points[0];
    const last = points[points.length - 1];
    return {
      sessions: n,
      heap_kb: slope(points.map((p) => [p.x, p.heap])),
      rss_kb: slope(points.map((p) => [p.x, p.rss])),
      retained_kb: slope(points.map((p) => [p.x, p.heap + p.external])),
      rss_delta_kb: (last.rss - first.rss) / n,
      heap_delta_kb: (last.heap - first.heap) / n,
      checkpoints: points.map((p) => ({
        sessions: p.x,
        rss_mb: round(p.rss / 1024, 1),
        heap_mb: round(p.heap / 1024, 1),
        external_mb: round(p.external / 1024, 1),
      })),
      login_s: loginMs / 1000,
      db: db.kind,
    };
  } finally {
    await t.close();
    await db.close();
  }
}

/** Runs `node --expose-gc --import tsx <file> args…` and resolves with its last stdout JSON line. */
function runChild<T>(file: string, args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', file, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += String(d);
    });
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{'))
        reject(new Error(`${file} ${args.join(' ')} failed (${code})`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

main(async () => {
  const i = process.argv.indexOf('--child');
  if (i >= 0) {
    const s = await baileysChild(Number(process.argv[i + 1]));
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  const n = QUICK ? 10 : 50;
  const simN = QUICK ? 1000 : 5000;
  progress(`density-baileys: ${n} real Baileys sessions against the emulator`);
  const wa = await runChild<Sample>(SELF, ['--child', String(n), ...(QUICK ? ['--quick'] : [])]);
  progress(`density-baileys: baseline, ${simN} simulator sessions in the gateway (bench/density.ts)`);
  const sim = await runChild<SimSample>(join(ROOT, 'bench/density.ts'), ['--child', 'gateway', String(simN)]);
  const rss = round(wa.rss_kb, 1);
  const retained = round(wa.retained_kb, 1);
  // Judged on the larger of RSS and heap + external: RSS alone moves with pages V8 and malloc hand back to the OS.
  const judged = Math.max(rss, retained);
  report({
    name: 'density-baileys',
    sessions: wa.sessions,
    rss_per_session_kb: rss,
    heap_per_session_kb: round(wa.heap_kb, 1),
    retained_per_session_kb: retained,
    rss_delta_kb_per_session: round(wa.rss_delta_kb, 1),
    heap_delta_kb_per_session: round(wa.heap_delta_kb, 1),
    checkpoints: wa.checkpoints,
    login_s_per_session: round(wa.login_s / wa.sessions, 2),
    note: 'idle logged-in whatsapp (Baileys) sessions in one gateway process, emulator in its own process; per-session figures = least-squares slope over checkpoints after full GCs; 2 warm-up sessions excluded',
    baseline: {
      what: `simulator sessions in the gateway, ${sim.sessions} sessions, same run (bench/density.ts child)`,
      rss_kb_per_session: round(sim.rss_kb, 1),
      heap_kb_per_session: round(sim.heap_kb, 1),
      waha_noweb_published_kb: WAHA_NOWEB_KB,
      waha_published: 'NOWEB 60-80 MB per session (WAHA FAQ, not measured here)',
    },
    ratio: round(WAHA_NOWEB_KB / Math.max(1, judged), 1),
    ratio_note:
      'WAHA NOWEB published 60 MB / ours (the larger of RSS and heap + external per session): how many times lighter',
    goal: `<= ${GOAL_KB / 1024} MB per idle logged-in session (the larger of RSS and heap + external)`,
    // A non-positive slope means the measurement failed, not that a session is free.
    met: retained > 0 && wa.heap_kb > 0 && judged <= GOAL_KB,
    machine: machine(wa.db),
  });
});
