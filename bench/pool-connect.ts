// Benchmark: "Connect my WhatsApp" from the warm pool, 100 concurrent users: connect → QR, p50/p99.
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { generateKey } from '../src/core/keys.js';
import { runBurst } from './burst.js';
import {
  machine,
  main,
  openBenchDb,
  percentile,
  progress,
  QUICK,
  report,
  round,
  startBenchGateway,
} from './support.js';

const USERS = 100;
/** Goal: p99 at most this many times the bare route's p99 under the same burst (issue #16). */
const GOAL_P99_FACTOR = 2;

main(async () => {
  const rounds = QUICK ? 2 : 10;
  const db = await openBenchDb({ poolSize: 10 });
  const t = await startBenchGateway(db, {
    env: {
      POOL_ENABLED: 'on',
      POOL_PROVIDER: 'simulator',
      SESSION_PROVIDER: 'simulator',
      POOL_SIZE: String(USERS * rounds),
      POOL_MIN_FREE: '0',
      POOL_REFILL: '1',
    },
  });
  let qrSample = '';
  try {
    progress(`pool-connect: filling the warm pool with ${USERS * rounds} instances (${db.kind})`);
    await t.gw.pool.fill();
    const stats = await t.gw.pool.stats();
    if (stats.ready < USERS * rounds) throw new Error(`pool not ready: ${JSON.stringify(stats)}`);
    // BENCH_CPU_PROFILE=<file.cpuprofile>, as in the other benchmarks: a CPU profile of the gateway during the bursts only.
    const profile = await startProfile(process.env.BENCH_CPU_PROFILE);
    // The gateway's own share of each connect (request received → response finished), apart from the load generator.
    const served = serverTimes(t.app.server);
    const ms: number[] = [];
    let retries = 0;
    let statements = 0;
    for (let r = 0; r < rounds; r++) {
      const keys: string[] = [];
      for (let i = 0; i < USERS; i++) {
        const id = `u${r}x${i}`;
        await t.gw.store.companies.create({ id, name: id });
        const k = generateKey('company');
        await t.gw.store.keys.insert({
          kind: 'company',
          prefix: k.prefix,
          hash: k.hash,
          company_id: id,
          instance_id: null,
          scopes: [],
          label: null,
        });
        keys.push(k.key);
      }
      progress(`pool-connect: round ${r + 1}/${rounds}, ${USERS} users at once`);
      const before = db.statements();
      await profile?.resume();
      const b = await runBurst({ url: `${t.url}/api/whatsapp/connect`, keys, qr: true });
      await profile?.pause();
      statements += db.statements() - before;
      qrSample ||= b.qr_sample;
      ms.push(...b.ms);
      retries += b.retries;
    }

    await profile?.stop();
    served.stop();

    // Same-run baseline: a bare Fastify route returning the same QR payload to the same 100 concurrent users.
    progress('pool-connect: baseline (bare Fastify route returning a QR data URL)');
    const bare = Fastify();
    const payload = { success: true, method: 'qr', qrCode: qrSample, instanceName: 'bare' };
    bare.post('/api/whatsapp/connect', async () => payload);
    const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
    const bareServed = serverTimes(bare.server);
    const baseMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const b = await runBurst({
        url: `${bareUrl}/api/whatsapp/connect`,
        keys: new Array(USERS).fill('x'),
        qr: false,
      });
      baseMs.push(...b.ms);
    }
    await bare.close();

    const p99 = percentile(ms, 99);
    const baseP99 = percentile(baseMs, 99);
    report({
      name: 'pool-connect',
      users: USERS,
      rounds,
      p50_ms: round(percentile(ms, 50)),
      p99_ms: round(p99),
      retries,
      // Every statement the gateway ran during the bursts (key look-ups, claims, their events' delivery wake-ups).
      statements_per_connect: round(statements / (USERS * rounds)),
      // Inside the server: from the request event to the response's last byte handed to the socket.
      server_p50_ms: round(percentile(served.ms, 50)),
      server_p99_ms: round(percentile(served.ms, 99)),
      baseline: {
        what: 'bare Fastify route returning the same QR payload, same 100 concurrent users from their own process',
        p50_ms: round(percentile(baseMs, 50)),
        p99_ms: round(baseP99),
        server_p50_ms: round(percentile(bareServed.ms, 50)),
        server_p99_ms: round(percentile(bareServed.ms, 99)),
      },
      ratio: round(baseP99 / p99, 3),
      goal: `p99 <= ${GOAL_P99_FACTOR} x the bare route's p99 (users fire from their own process)`,
      met: p99 <= GOAL_P99_FACTOR * baseP99,
      machine: machine(db.kind),
    });
  } finally {
    await t.close();
    await db.close();
  }
});

/** Milliseconds each request spent inside `server` (request event → response finished), until `stop`. */
function serverTimes(server: Server) {
  const ms: number[] = [];
  const onRequest = (_req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    res.once('finish', () => ms.push(performance.now() - t0));
  };
  server.prependListener('request', onRequest);
  return { ms, stop: () => server.off('request', onRequest) };
}

/** A V8 CPU profile that samples only between `resume` and `pause`, written to `path` at `stop`. */
async function startProfile(path: string | undefined) {
  if (!path) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  const parts: unknown[] = [];
  return {
    resume: () => session.post('Profiler.start'),
    async pause() {
      const { profile } = await session.post('Profiler.stop');
      parts.push(profile);
    },
    async stop() {
      // One file per burst: `<path>.<n>.cpuprofile` (bench/profile-top.ts reads one at a time).
      for (const [i, p] of parts.entries()) {
        writeFileSync(`${path.replace(/\.cpuprofile$/, '')}.${i}.cpuprofile`, JSON.stringify(p));
      }
      session.disconnect();
    },
  };
}
