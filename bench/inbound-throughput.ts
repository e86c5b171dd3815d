// Benchmark: inbound simulator messages across 100 instances → stored and delivered to a local webhook receiver.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { Store } from '../src/ports/store.js';
import { startReceiver, wallMs } from './receiver.js';
import {
  type BenchDb,
  connectedInstances,
  databaseUrl,
  machine,
  main,
  openBenchDb,
  percentile,
  profileIfAsked,
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
  const aloneS = QUICK ? 5 : 15;
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
    let phase = 0;
    /** 100 instances at once, each injecting its next message as soon as the last one is committed. */
    const inject = async (seconds: number) => {
      const tag = phase++;
      let injected = 0;
      const writerBefore = { ...t.gw.supervisor.writer.stats };
      const pgCpu = await meterPgCpu(db);
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      const startWall = wallMs();
      const stopAt = start + seconds * 1000;
      await Promise.all(
        ids.map(async (id, w) => {
          for (let i = 0; performance.now() < stopAt; i++) {
            await t.gw.supervisor.control(id, 'inbound', {
              from: `49151${String(1_000_000 + ((w * 7 + i) % 50)).slice(-7)}@s.whatsapp.net`,
              text: `inbound ${tag}/${w}/${i}`,
              name: `Contact ${i % 50}`,
            });
            injected++;
          }
        }),
      );
      const wallS = (performance.now() - start) / 1000;
      const gatewayCpu = process.cpuUsage(cpu0);
      const pgMs = await pgCpu();
      const w = t.gw.supervisor.writer.stats;
      const flushes = w.flushes - writerBefore.flushes;
      return {
        injected,
        wallS,
        startWall,
        flushes,
        batchAvg: (w.items - writerBefore.items) / Math.max(1, flushes),
        flushMsAvg: (w.flushMs - writerBefore.flushMs) / Math.max(1, flushes),
        nodeCores: (gatewayCpu.user + gatewayCpu.system) / 1e6 / wallS,
        pgCores: pgMs === null ? null : pgMs / 1000 / wallS,
        pgMsPerMessage: pgMs === null ? null : pgMs / Math.max(1, injected),
      };
    };

    // Phase 1: the ingest alone (no endpoint yet: no outbox rows, no worker competing for this process's CPU).
    progress(`inbound-throughput: ingest alone for ${aloneS} s (no webhook endpoint)`);
    const alone = await inject(aloneS);

    progress(
      'inbound-throughput: the storage statement alone (ingestMany, 100 messages a call, one at a time)',
    );
    // Then the writer's statement by itself, still with no endpoint (so no outbox rows and nothing to deliver).
    const statementAlone = await ingestAlone(db, t.gw.store, ids, aloneS);

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
      const m =
        e.type === 'message' ? (e.data?.message as { is_from_me?: boolean; message_id?: string }) : null;
      // The statement-alone phase's rows reach this bus too (as another writer's, read from the log): not counted.
      if (m && !m.is_from_me && !m.message_id?.startsWith('ALONE')) {
        committed.set(e.id, wallMs());
      }
    });

    // Phase 2, the measured figure: the same ingest with a webhook endpoint taking every message.
    progress(`inbound-throughput: injecting for ${injectS} s from ${INSTANCES} instances at once`);
    const statementsBefore = db.statements();
    const stopSampling = await sampleDbStates(db);
    const stopProfile = await profileIfAsked();
    const measured = await inject(injectS);
    await stopProfile();
    const { injected, wallS: storeS, startWall } = measured;
    // Deliveries received while the injection ran (the worker's pace against the ingest's, same window).
    const receivedDuringIngest = webhook ? await receiver.arrivals() : new Map<number, number>();
    const deliveredDuringIngest = [...receivedDuringIngest.values()].filter(
      (at) => at <= startWall + storeS * 1000,
    ).length;
    const dbStates = await stopSampling();
    const statementsPerMessage = (db.statements() - statementsBefore) / Math.max(1, injected);
    const [{ n: stored }] = await db.driver.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${db.schema}".messages WHERE NOT is_from_me`,
    );
    if (stored !== alone.injected + statementAlone.messages + injected) {
      throw new Error(
        `stored ${stored} messages, wrote ${alone.injected + statementAlone.messages + injected}`,
      );
    }

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
        node: round(measured.nodeCores, 2),
        postgres: measured.pgCores === null ? null : round(measured.pgCores, 2),
        postgres_ms_per_message: measured.pgMsPerMessage === null ? null : round(measured.pgMsPerMessage, 3),
      },
      undelivered_after_drain: webhook ? committed.size - delivered : null,
      lag_p50_ms: webhook ? round(percentile(lags, 50)) : null,
      lag_p99_ms: webhook ? round(percentile(lags, 99)) : null,
      statements_per_message: round(statementsPerMessage, 2),
      statements_what:
        'every statement the gateway sent during the injection (webhook worker included), per message',
      group_commits: measured.flushes,
      batch_avg: round(measured.batchAvg, 1),
      batch_largest: t.gw.supervisor.writer.stats.largest,
      flush_ms_avg: round(measured.flushMsAvg, 2),
      flush_what:
        "wall ms from a group commit's start to its settling (statement round trip, commit, publishing), on average",
      ingest_alone: {
        what: 'the same injection before any webhook endpoint existed: no outbox rows, no delivery worker at work',
        stored_per_s: round(alone.injected / alone.wallS, 1),
        batch_avg: round(alone.batchAvg, 1),
        flush_ms_avg: round(alone.flushMsAvg, 2),
        node_cores: round(alone.nodeCores, 2),
        postgres_cores: alone.pgCores === null ? null : round(alone.pgCores, 2),
        postgres_ms_per_message: alone.pgMsPerMessage === null ? null : round(alone.pgMsPerMessage, 3),
      },
      statement_alone: {
        what: "the writer's one statement (messages.ingestMany) called directly with 100 messages, one call at a time: the ceiling of one flush in flight",
        ...statementAlone,
      },
      db_connection_states: dbStates,
      baseline: {
        what: 'plain multi-row INSERT (500 rows a statement, 4 writers) of the same rows into a copy of messages',
        rows_per_s: round(baseline.rps, 1),
        postgres_ms_per_row: baseline.pgMsPerRow === null ? null : round(baseline.pgMsPerRow, 3),
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
 * Calls the store's `ingestMany` (the inbound writer's whole statement) directly, 100 messages of 100 instances a
 * call, one call at a time, for `seconds`: messages/s, mean ms per call, and PostgreSQL CPU ms per message.
 */
async function ingestAlone(db: BenchDb, store: Store, ids: string[], seconds: number) {
  const pgCpu = await meterPgCpu(db);
  const start = performance.now();
  let n = 0;
  let calls = 0;
  for (let r = 0; performance.now() - start < seconds * 1000; r++) {
    await store.messages.ingestMany(
      ids.map((instance_id, w) => {
        const from = `49151${String(1_000_000 + ((w * 7 + r) % 50)).slice(-7)}@s.whatsapp.net`;
        return {
          instance_id,
          company_id: 'bench',
          message_id: `ALONE${r}_${w}`,
          chat_id: from,
          from,
          to: '15550000000@s.whatsapp.net',
          body: `inbound alone ${w}/${r}`,
          type: 'text',
          is_from_me: false,
          is_group: false,
          group_id: null,
          contact_name: `Contact ${r % 50}`,
          reply_to: null,
          media: null,
          mentions: [],
          status: 'received',
          timestamp: new Date().toISOString(),
          contact_phone: null,
        };
      }),
      [],
    );
    n += ids.length;
    calls++;
  }
  const s = (performance.now() - start) / 1000;
  const pgMs = await pgCpu();
  return {
    messages: n,
    messages_per_s: round(n / s, 1),
    ms_per_call: round((s * 1000) / Math.max(1, calls), 2),
    postgres_ms_per_message: pgMs === null ? null : round(pgMs / n, 3),
  };
}

/** utime + stime of a process in clock ticks (10 ms), or null when it is gone. */
function procTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/**
 * Meters the CPU of this benchmark's PostgreSQL backends (found by application_name, read from /proc, so only for a
 * server on this machine) from now until the returned function is called: CPU ms, or null (PGlite, no /proc).
 * The backends are listed every 100 ms over a connection of its own (not one of the gateway's, not counted): a pool
 * opens and closes connections during a run, and a backend started meanwhile counts from zero.
 */
async function meterPgCpu(db: BenchDb): Promise<() => Promise<number | null>> {
  const url = databaseUrl();
  if (db.kind !== 'postgres' || !url || procTicks(process.pid) === null) return async () => null;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let started = false;
  const read = async () => {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [db.schema],
    );
    for (const { pid } of rows) {
      const ticks = procTicks(pid);
      if (ticks === null) continue;
      if (!first.has(pid)) first.set(pid, started ? 0 : ticks);
      last.set(pid, ticks);
    }
  };
  await read();
  started = true;
  let reading: Promise<void> | null = null;
  const timer = setInterval(() => {
    reading ??= read().finally(() => {
      reading = null;
    });
  }, 100);
  return async () => {
    clearInterval(timer);
    await reading;
    await read();
    await client.end();
    let ticks = 0;
    for (const [pid, t] of last) ticks += t - (first.get(pid) ?? 0);
    return ticks * 10;
  };
}

/** Inserts `n` rows shaped like the stored inbound messages with multi-row INSERTs; rows per second. */
async function multiRowInsert(
  db: BenchDb,
  ids: string[],
  n: number,
): Promise<{ rps: number; pgMsPerRow: number | null }> {
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
  const pgCpu = await meterPgCpu(db);
  await Promise.all(Array.from({ length: db.kind === 'pglite' ? 1 : 4 }, writer));
  const rps = n / ((performance.now() - start) / 1000);
  const pgMs = await pgCpu();
  return { rps, pgMsPerRow: pgMs === null ? null : pgMs / n };
}
