// Benchmark: simulator reports client_ready → row committed (bus) and → a WebSocket client (own thread) receives it.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import type { GatewayEvent } from '../src/domain/model.js';
import {
  BENCH_ADMIN_KEY,
  connectedInstances,
  databaseUrl,
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

const GOAL_P99_MS = 20;

/** The WebSocket client's thread: reports when each client_ready status arrives (epoch-based high-res ms). */
const WS_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const WebSocket = require(workerData.ws);
const ws = new WebSocket(workerData.url);
ws.once('open', () => parentPort.postMessage({ open: true }));
ws.once('error', (err) => parentPort.postMessage({ error: String(err) }));
ws.on('message', (raw) => {
  const at = performance.timeOrigin + performance.now();
  const e = JSON.parse(String(raw));
  if (e.type === 'instance.status' && e.data.auth_status === 'client_ready' && e.instance_id)
    parentPort.postMessage({ id: e.instance_id, at });
});
`;

/** One backend's figures (milliseconds). */
interface Figures {
  db: string;
  samples: number;
  /** Provider report → this process published the committed event (the transaction's share). */
  published_p50_ms: number;
  published_p99_ms: number;
  row_p50_ms: number;
  row_p99_ms: number;
  /** Provider report → the gateway handed the frame to the client's socket (ws `send`). */
  sent_p50_ms: number;
  sent_p99_ms: number;
  ws_p50_ms: number;
  ws_p99_ms: number;
  base_p50_ms: number;
  base_p99_ms: number;
}

/** Measures on one backend for about `budgetMs` (plus half of it for the baseline). */
async function measure(kind: 'postgres' | 'pglite', budgetMs: number): Promise<Figures> {
  const samples = QUICK ? 200 : 1000;
  const warmup = 20;
  progress(`status-latency: opening the database (${kind})`);
  const db = await openBenchDb({ kind });
  const reported = new Map<string, number>();
  const committed = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const tailWaiters = new Map<string, () => void>();
  const t = await startBenchGateway(db, {
    onProviderEvent: (id, e) => {
      if (e.type === 'auth' && e.auth_status === 'client_ready') reported.set(id, performance.now());
    },
  });
  try {
    // (a) the row: the bus publishes only after the transaction committed (a store read confirms it below, off the
    // clock: on PGlite the read runs on this thread and would delay the WebSocket delivery it is compared with).
    t.gw.bus.subscribe((e: GatewayEvent) => {
      if (e.type !== 'instance.status' || e.data.auth_status !== 'client_ready' || !e.instance_id) return;
      const id = e.instance_id;
      committed.set(id, performance.now());
      tailWaiters.get(id)?.();
    });
    // The moment this process published it after commit (on the log-tail bus, `subscribe` waits for the tail).
    const local = t.gw.bus.subscribeLocal?.bind(t.gw.bus) ?? t.gw.bus.subscribe.bind(t.gw.bus);
    const published = new Map<string, number>();
    local((e: GatewayEvent) => {
      if (e.type !== 'instance.status' || e.data.auth_status !== 'client_ready' || !e.instance_id) return;
      published.set(e.instance_id, performance.now());
    });
    // The moment the gateway handed the frame to the socket (what a client in another process waits for; the
    // client below shares this event loop, so its receipt also waits for whatever the gateway does next).
    const sent = new Map<string, number>();
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
      const at = performance.now();
      if (typeof data === 'string' && data.includes('"client_ready"')) {
        const e = JSON.parse(data) as GatewayEvent;
        if (e.type === 'instance.status' && e.instance_id) sent.set(e.instance_id, at);
      }
      return (send as (...a: unknown[]) => void).apply(this, [data, ...rest]);
    } as typeof send;
    // (b) a WebSocket subscriber over real TCP, in a thread of its own: a client never shares the gateway's event
    // loop (on this thread its receipt would also wait for whatever the gateway does after sending, e.g. PGlite
    // queries the same event starts elsewhere).
    const wsRecv = new Map<string, number>();
    const client = new Worker(WS_CLIENT, {
      eval: true,
      workerData: {
        ws: createRequire(import.meta.url).resolve('ws'),
        url: `${t.url.replace(/^http/, 'ws')}/api/v1/events?types=instance.status&api_key=${BENCH_ADMIN_KEY}`,
      },
    });
    await new Promise<void>((resolve, reject) => {
      client.on('message', (m: { open?: true; error?: string; id?: string; at?: number }) => {
        if (m.open) resolve();
        if (m.error) reject(new Error(m.error));
        if (!m.id || m.at === undefined) return;
        const done = waiters.get(m.id);
        if (done) {
          waiters.delete(m.id);
          wsRecv.set(m.id, m.at - performance.timeOrigin);
          done();
        }
      });
      client.once('error', reject);
    });

    progress(`status-latency: up to ${samples} samples in ${budgetMs / 1000} s (${db.kind})`);
    const rowMs: number[] = [];
    const pubMs: number[] = [];
    const sentMs: number[] = [];
    const wsMs: number[] = [];
    const ids: string[] = [];
    const deadline = performance.now() + budgetMs;
    for (let i = 0; wsMs.length < samples && (performance.now() < deadline || wsMs.length < 20); i++) {
      // Untimed: a fresh instance waiting with a QR. Timed: the scan's client_ready report.
      const [id] = await connectedInstances(t.gw, 'bench', 1, { connect: false, first: i });
      ids.push(id);
      const received = new Promise<void>((resolve) => waiters.set(id, resolve));
      // The WebSocket may now be first: on the log-tail bus it no longer waits for the tail, `subscribe` does.
      const tailed = new Promise<void>((resolve) => tailWaiters.set(id, resolve));
      await t.gw.supervisor.control(id, 'scan', { phone: `1555${String(2_000_000 + i).slice(-7)}` });
      await received;
      await tailed;
      tailWaiters.delete(id);
      const row = await t.gw.store.instances.get(id);
      if (row?.auth_status !== 'client_ready')
        throw new Error(`row ${id} is ${row?.auth_status}, not client_ready`);
      if (i < warmup) continue;
      const t0 = reported.get(id);
      if (t0 === undefined || !committed.has(id) || !wsRecv.has(id) || !published.has(id) || !sent.has(id)) {
        throw new Error(`incomplete sample for ${id}`);
      }
      sentMs.push(sent.get(id)! - t0);
      pubMs.push(published.get(id)! - t0);
      rowMs.push(committed.get(id)! - t0);
      wsMs.push(wsRecv.get(id)! - t0);
    }
    await client.terminate();
    WebSocket.prototype.send = send;

    // Same-run baseline: the bare database work of one status change (lock row, update, insert event, commit).
    progress('status-latency: baseline (bare transaction)');
    const q = `"${db.schema}"`;
    const baseMs: number[] = [];
    const baseDeadline = performance.now() + budgetMs / 2;
    for (let i = 0; i < wsMs.length && (performance.now() < baseDeadline || i < 20); i++) {
      const id = ids[i % ids.length];
      const t0 = performance.now();
      await db.driver.transaction(async (sql) => {
        await sql.query(`SELECT * FROM ${q}.instances WHERE id = $1 FOR UPDATE`, [id]);
        await sql.query(
          `UPDATE ${q}.instances SET auth_status = 'client_ready', updated_at = now() WHERE id = $1`,
          [id],
        );
        await sql.query(
          `INSERT INTO ${q}.events (type, instance_id, company_id, data) VALUES ($1, $2, $3, $4)`,
          ['bench.baseline', id, 'bench', JSON.stringify({ status: 'running', auth_status: 'client_ready' })],
        );
      });
      baseMs.push(performance.now() - t0);
    }

    return {
      db: db.kind,
      samples: wsMs.length,
      published_p50_ms: round(percentile(pubMs, 50)),
      published_p99_ms: round(percentile(pubMs, 99)),
      row_p50_ms: round(percentile(rowMs, 50)),
      row_p99_ms: round(percentile(rowMs, 99)),
      sent_p50_ms: round(percentile(sentMs, 50)),
      sent_p99_ms: round(percentile(sentMs, 99)),
      ws_p50_ms: round(percentile(wsMs, 50)),
      ws_p99_ms: round(percentile(wsMs, 99)),
      base_p50_ms: round(percentile(baseMs, 50)),
      base_p99_ms: round(percentile(baseMs, 99)),
    };
  } finally {
    progress('status-latency: closing');
    await t.close();
    await db.close();
    progress('status-latency: closed');
  }
}

main(async () => {
  // PostgreSQL (production) first when available, then the embedded PGlite.
  const kinds: Array<'postgres' | 'pglite'> = databaseUrl() ? ['postgres', 'pglite'] : ['pglite'];
  const budgetMs = (QUICK ? 16_000 : 90_000) / kinds.length;
  const all: Figures[] = [];
  for (const kind of kinds) all.push(await measure(kind, budgetMs));
  const [head] = all;
  const { db, base_p50_ms, base_p99_ms, ...figures } = head;
  report({
    name: 'status-latency',
    ...figures,
    by_db: Object.fromEntries(all.map((f) => [f.db, f])),
    baseline: {
      what: 'bare transaction: SELECT FOR UPDATE + UPDATE + INSERT event',
      p50_ms: base_p50_ms,
      p99_ms: base_p99_ms,
    },
    ratio: round(base_p99_ms / head.ws_p99_ms, 3),
    goal: `ws p99 <= ${GOAL_P99_MS} ms (every database)`,
    met: all.every((f) => f.ws_p99_ms <= GOAL_P99_MS),
    machine: machine(db),
  });
});
