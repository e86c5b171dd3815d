// Benchmark: "Connect my WhatsApp" from the warm pool, 100 concurrent users: connect → QR, p50/p99.
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { generateKey } from '../src/core/keys.js';
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
const GOAL_P99_MS = 50;

/** Fires one connect per user at once; each retries until it holds a QR. Milliseconds per user. */
async function burst(
  url: string,
  keys: string[],
  isQr: (body: Record<string, unknown>) => boolean,
): Promise<{ ms: number[]; retries: number }> {
  let retries = 0;
  const ms = await Promise.all(
    keys.map(async (key) => {
      const t0 = performance.now();
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
        const body = (await res.json()) as Record<string, unknown>;
        if (res.status === 200 && isQr(body)) return performance.now() - t0;
        if (attempt > 200)
          throw new Error(`no QR after ${attempt} tries: ${res.status} ${JSON.stringify(body)}`);
        retries++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }),
  );
  return { ms, retries };
}

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
    const ms: number[] = [];
    let retries = 0;
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
      const b = await burst(`${t.url}/api/whatsapp/connect`, keys, (body) => {
        if (body.method === 'qr' && typeof body.qrCode === 'string') {
          qrSample = body.qrCode;
          return true;
        }
        return false;
      });
      ms.push(...b.ms);
      retries += b.retries;
    }

    // Same-run baseline: a bare Fastify route returning the same QR payload to the same 100 concurrent users.
    progress('pool-connect: baseline (bare Fastify route returning a QR data URL)');
    const bare = Fastify();
    const payload = { success: true, method: 'qr', qrCode: qrSample, instanceName: 'bare' };
    bare.post('/api/whatsapp/connect', async () => payload);
    const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
    const baseMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const b = await burst(`${bareUrl}/api/whatsapp/connect`, new Array(USERS).fill('x'), () => true);
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
      baseline: {
        what: 'bare Fastify route returning the same QR payload, same 100 concurrent users',
        p50_ms: round(percentile(baseMs, 50)),
        p99_ms: round(baseP99),
      },
      ratio: round(baseP99 / p99, 3),
      goal: `p99 <= ${GOAL_P99_MS} ms`,
      met: p99 <= GOAL_P99_MS,
      machine: machine(db.kind),
    });
  } finally {
    await t.close();
    await db.close();
  }
});
