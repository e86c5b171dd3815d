// Benchmark: inbound simulator messages across 100 instances → stored and delivered to a local webhook receiver.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { startReceiver, wallMs } from './receiver.js';
import {
  type BenchDb,
  connectedInstances,
  machine,
  main,
  openBenchDb,
  percentile,
  progress,
  QUICK,
  report,
  round,
  sampleDbStates,
  startBenchGateway,
} from './support.js';

const INSTANCES = 100;
const GOAL_RPS = 5000;
const GOAL_RATIO = 0.3;

main(async () => {
  const injectS = QUICK ? 8 : 30;
  const drainS = QUICK ? 10 : 60;
  const db = await openBenchDb({ poolSize: 10 });

  // The webhook receiver, in a process of its own (it records when each message event arrives).
  const receiver = await startReceiver();
  const hookUrl = receiver.url;

  const t = await startBenchGateway(db, {
    env: { WEBHOOK_ALLOW_PRIVATE: 'on', WEBHOOK_WORKER_INTERVAL_MS: '50' },
  });
  try {
    progress(`inbound-throughput: ${INSTANCES} connected instances (${db.kind})`);
    const ids = await connectedInstances(t.gw, 'bench', INSTANCES);
    let webhook = false;
    if (t.gw.delivery) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/companies/bench/webhooks',
        headers: t.admin,
        payload: { url: hookUrl, events: ['message'] },
      });
      if (res.statusCode !== 201) throw new Error(`webhook registration failed: ${res.body}`);
      webhook = true;
    }
    const committed = new Map<number, number>();
    t.gw.bus.subscribe((e) => {
      if (e.type === 'message' && e.data && !(e.data.message as { is_from_me?: boolean })?.is_from_me) {
        committed.set(e.id, wallMs());
      }
    });

    progress(`inbound-throughput: injecting for ${injectS} s from ${INSTANCES} instances at once`);
    let injected = 0;
    const statementsBefore = db.statements();
    const writerBefore = { ...t.gw.supervisor.writer.stats };
    const stopSampling = await sampleDbStates(db);
    const pgCpu0 = await backendCpuMs(db);
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const startWall = wallMs();
    const stopAt = start + injectS * 1000;
    await Promise.all(
      ids.map(async (id, w) => {
        for (let i = 0; performance.now() < stopAt; i++) {
          await t.gw.supervisor.control(id, 'inbound', {
            from: `49151${String(1_000_000 + ((w * 7 + i) % 50)).slice(-7)}@s.whatsapp.net`,
            text: `inbound ${w}/${i}`,
            name: `Contact ${i % 50}`,
          });
          injected++;
        }
      }),
    );
    const storeS = (performance.now() - start) / 1000;
    const gatewayCpu = process.cpuUsage(cpu0);
    const pgCpu1 = await backendCpuMs(db);
    // Deliveries received while the injection ran (the worker's pace against the ingest's, same window).
    const receivedDuringIngest = webhook ? await receiver.arrivals() : new Map<number, number>();
    const deliveredDuringIngest = [...receivedDuringIngest.values()].filter(
      (at) => at <= startWall + storeS * 1000,
    ).length;
    const dbStates = await stopSampling();
    const statementsPerMessage = (db.statements() - statementsBefore) / Math.max(1, injected);
    const w = t.gw.supervisor.writer.stats;
    const flushes = w.flushes - writerBefore.flushes;
    const batchAvg = (w.items - writerBefore.items) / Math.max(1, flushes);
    const [{ n: stored }] = await db.driver.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${db.schema}".messages WHERE NOT is_from_me`,
    );
    if (stored !== injected) throw new Error(`stored ${stored} messages, injected ${injected}`);

    let delivered = 0;
    let deliverS = 0;
    const lags: number[] = [];
    if (webhook) {
      progress(`inbound-throughput: waiting up to ${drainS} s for webhook deliveries`);
      const drainEnd = performance.now() + drainS * 1000;
      while ((await receiver.count()) < committed.size && performance.now() < drainEnd) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const received = await receiver.arrivals();
      delivered = received.size;
      const last = Math.max(...received.values());
      deliverS = (last - startWall) / 1000;
      for (const [id, at] of received) {
        const c = committed.get(id);
        if (c !== undefined) lags.push(at - c);
      }
    }

    progress('inbound-throughput: baseline (plain multi-row INSERTs of the same rows)');
    const baseline = await multiRowInsert(db, ids, injected);
    const rps = injected / storeS;
    const ratio = rps / baseline.rps;
    report({
      name: 'inbound-throughput',
      stored_per_s: round(rps, 1),
      messages: injected,
      instances: INSTANCES,
      duration_s: round(storeS, 1),
      webhook,
      delivered,
      delivered_per_s: webhook ? round(delivered / deliverS, 1) : null,
      delivered_during_ingest_per_s: webhook ? round(deliveredDuringIngest / storeS, 1) : null,
      delivery_over_ingest: webhook ? round(deliveredDuringIngest / storeS / (injected / storeS), 3) : null,
      cpu_split: {
        what: "CPU seconds per wall second during the injection (2 cores = 2.0): this process (gateway, webhook worker, load; the receiver runs in its own process) and this benchmark's PostgreSQL backends",
        node: round((gatewayCpu.user + gatewayCpu.system) / 1e6 / storeS, 2),
        postgres: pgCpu0 === null || pgCpu1 === null ? null : round((pgCpu1 - pgCpu0) / 1000 / storeS, 2),
      },
      undelivered_after_drain: webhook ? committed.size - delivered : null,
      lag_p50_ms: webhook ? round(percentile(lags, 50)) : null,
      lag_p99_ms: webhook ? round(percentile(lags, 99)) : null,
      statements_per_message: round(statementsPerMessage, 2),
      statements_what:
        'every statement the gateway sent during the injection (webhook worker included), per message',
      group_commits: flushes,
      batch_avg: round(batchAvg, 1),
      batch_largest: w.largest,
      db_connection_states: dbStates,
      baseline: {
        what: 'plain multi-row INSERT (500 rows a statement, 4 writers) of the same rows into a copy of messages',
        rows_per_s: round(baseline.rps, 1),
      },
      ratio: round(ratio, 3),
      goal: `>= ${GOAL_RPS} msg/s stored and >= ${GOAL_RATIO} of baseline`,
      met: rps >= GOAL_RPS && ratio >= GOAL_RATIO,
      machine: machine(db.kind),
    });
  } finally {
    await t.close();
    await receiver.close();
    await db.close();
  }
});

/**
 * CPU milliseconds used so far by this benchmark's PostgreSQL backends (found by application_name; read from /proc,
 * so only for a server on this machine), or null (PGlite, or /proc not readable).
 */
async function backendCpuMs(db: BenchDb): Promise<number | null> {
  if (db.kind !== 'postgres') return null;
  try {
    const rows = await db.driver.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND application_name = $1`,
      [db.schema],
    );
    let ticks = 0;
    for (const { pid } of rows) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * 10;
  } catch {
    return null;
  }
}

/** Inserts `n` rows shaped like the stored inbound messages with multi-row INSERTs; rows per second. */
async function multiRowInsert(db: BenchDb, ids: string[], n: number): Promise<{ rps: number }> {
  const q = `"${db.schema}"`;
  await db.driver.query(`CREATE TABLE ${q}.bench_messages (LIKE ${q}.messages INCLUDING ALL)`);
  const batch = 500;
  const cols = 13;
  let next = 0;
  const start = performance.now();
  const writer = async () => {
    for (;;) {
      const from = next;
      if (from >= n) return;
      const count = Math.min(batch, n - from);
      next += count;
      const values: string[] = [];
      const params: unknown[] = [];
      for (let k = 0; k < count; k++) {
        const i = from + k;
        const chat = `49151${String(1_000_000 + (i % 50)).slice(-7)}@s.whatsapp.net`;
        const b = k * cols;
        values.push(`(${Array.from({ length: cols }, (_, c) => `$${b + c + 1}`).join(', ')})`);
        params.push(
          ids[i % ids.length],
          'bench',
          `BASE${i}`,
          chat,
          chat,
          '15550000000@s.whatsapp.net',
          `inbound ${i}`,
          'text',
          false,
          false,
          `Contact ${i % 50}`,
          'received',
          new Date().toISOString(),
        );
      }
      await db.driver.query(
        `INSERT INTO ${q}.bench_messages (instance_id, company_id, message_id, chat_id, from_id, to_id, body, type,
           is_from_me, is_group, contact_name, status, ts) VALUES ${values.join(', ')}`,
        params,
      );
    }
  };
  await Promise.all(Array.from({ length: db.kind === 'pglite' ? 1 : 4 }, writer));
  return { rps: n / ((performance.now() - start) / 1000) };
}
