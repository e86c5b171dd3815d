// Benchmark: events committed → signed webhook deliveries from the outbox; deliveries/s and commit→receipt lag.
// `--backlog N` sets the depth of the outbox drained in phase 1; its first and last fifth are timed apart (deep vs shallow).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import { commitWithEvents } from '../src/core/commit.js';
import { postRequest } from '../src/delivery/webhooks/http-post.js';
import type { NewEvent } from '../src/domain/model.js';
import { createGuardedFetch } from '../src/runtime/outbound/guarded-fetch.js';
import {
  machine,
  main,
  openBenchDb,
  percentile,
  profileIfAsked,
  progress,
  QUICK,
  report,
  round,
  startBenchGateway,
} from './support.js';

const CHATS = 200;
const WRITERS = 4;
const GOAL_DPS = 500;
/** Events committed per transaction while the outbox is filled (the fill is not what is measured). */
const FILL_BATCH = 100;

/** The value of `--name N` or `--name=N` on the command line, if given. */
function intArg(name: string): number | undefined {
  const i = process.argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const raw = process.argv[i].includes('=') ? process.argv[i].split('=')[1] : process.argv[i + 1];
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} needs a positive integer, got ${raw}`);
  return n;
}

main(async () => {
  const events = intArg('backlog') ?? (QUICK ? 3000 : 20_000);
  const live = QUICK ? 500 : 3000;
  // A deep backlog gets time to drain at 20 deliveries/s at worst (a loaded machine).
  const drainS = Math.max(QUICK ? 20 : 120, Math.ceil(events / 20));
  const db = await openBenchDb({ poolSize: 10 });

  const received = new Map<string, number>();
  let bad = 0;
  let verifier: Webhook | null = null;
  const receiver = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.endsWith('/baseline')) {
        res.writeHead(204).end();
        return;
      }
      const id = String(req.headers['webhook-id']);
      // Every 100th request is verified with the official package (verifying all would measure the receiver).
      if (verifier && received.size % 100 === 0) {
        try {
          verifier.verify(Buffer.concat(chunks).toString('utf8'), req.headers as Record<string, string>);
        } catch {
          bad++;
        }
      }
      if (!received.has(id)) received.set(id, performance.now());
      res.writeHead(204).end();
    });
  });
  let connections = 0;
  receiver.on('connection', () => connections++);
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const t = await startBenchGateway(db, {
    env: { WEBHOOK_ALLOW_PRIVATE: 'on', WEBHOOK_WORKER_INTERVAL_MS: '50' },
  });
  try {
    await t.gw.store.companies.ensure('bench');
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/bench/webhooks',
      headers: t.admin,
      payload: { url: hookUrl, events: ['bench.message'] },
    });
    if (res.statusCode !== 201) throw new Error(`webhook registration failed: ${res.body}`);
    verifier = new Webhook(res.json().secret);

    const committed = new Map<string, number>();
    t.gw.bus.subscribe((e) => {
      if (e.type === 'bench.message') committed.set(String(e.id), performance.now());
    });
    const event = (i: number) =>
      ({
        type: 'bench.message',
        instance_id: null,
        company_id: 'bench',
        data: { message: { chat_id: `chat-${i % CHATS}`, body: `event ${i}`, is_from_me: false } },
        // A type of its own (outside the event union), so nothing but the bench's endpoints takes it.
      }) as unknown as NewEvent;
    /** Commits events from..to-1 by WRITERS writers, `batch` events per transaction. */
    const commit = async (from: number, to: number, batch = 1) => {
      let next = from;
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          for (let i = next; i < to; i = next) {
            next = Math.min(to, i + batch);
            const end = next;
            await commitWithEvents(t.gw.store, t.gw.bus, async (_tx, emit) => {
              for (let j = i; j < end; j++) await emit(event(j));
            });
          }
        }),
      );
    };
    const drain = async () => {
      const end = performance.now() + drainS * 1000;
      while (received.size < committed.size && performance.now() < end) {
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    // Phase 1, backlog: the outbox is filled with the worker stopped, then drained → deliveries per second.
    const worker = t.gw.delivery?.worker;
    if (!worker) throw new Error('the gateway has no delivery worker');
    await worker.stop();
    progress(`webhook-throughput: filling the outbox with ${events} events over ${CHATS} chats (${db.kind})`);
    const c0 = performance.now();
    await commit(0, events, FILL_BATCH);
    const commitS = (performance.now() - c0) / 1000;
    progress(`webhook-throughput: committed in ${round(commitS, 1)} s; draining the backlog`);
    // The worker's claims during the drain, and the deliveries they brought back (claims per delivery).
    const repo = t.gw.store.deliveries;
    const claim = repo.claim.bind(repo);
    let claims = 0;
    let claimedRows = 0;
    repo.claim = async (...a) => {
      const got = await claim(...a);
      claims++;
      claimedRows += got.length;
      return got;
    };
    const d0 = performance.now();
    const s0 = db.statements();
    const stopProfile = await profileIfAsked();
    const cpu0 = process.cpuUsage();
    worker.start();
    await drain();
    const cpuDrain = process.cpuUsage(cpu0);
    const drainClaims = claims;
    const drainClaimedRows = claimedRows;
    repo.claim = claim;
    await stopProfile();
    const backlogDelivered = received.size;
    const drainConnections = connections;
    const cpuMsPerDelivery = (cpuDrain.user + cpuDrain.system) / 1000 / Math.max(1, backlogDelivered);
    // Every statement the gateway sent while it drained the backlog (the worker's claims and outcomes), per delivery.
    const statementsPerDelivery = (db.statements() - s0) / Math.max(1, backlogDelivered);
    const times = [...received.values()].sort((a, b) => a - b);
    const deliverS = (times[times.length - 1] - d0) / 1000;
    // Deliveries/s over the first fifth of the backlog (outbox deepest) and over its last fifth (nearly empty): a
    // claim whose cost grows with the backlog shows as deep well below shallow. Null when the drain did not finish.
    const fifth = Math.floor(events / 5);
    const deepDps = times.length >= fifth ? fifth / ((times[fifth - 1] - d0) / 1000) : null;
    const shallowDps =
      times.length >= events
        ? fifth / ((times[times.length - 1] - times[times.length - 1 - fifth]) / 1000)
        : null;

    // Phase 2, live: events committed while the worker runs → commit-to-receipt lag.
    progress(`webhook-throughput: ${live} live events for the lag`);
    // Only the live events: the backlog's last batch is published a moment after the drain starts (d0), so a
    // filter on d0 counted it and its drain time as lag.
    const l0 = performance.now();
    await commit(events, events + live);
    await drain();
    const lags: number[] = [];
    for (const [id, c] of committed) {
      const at = received.get(id);
      if (at !== undefined && c >= l0) lags.push(at - c);
    }

    progress(
      'webhook-throughput: baseline (the same POSTs straight to the receiver, 50 at a time, kept alive, no outbox)',
    );
    const body = JSON.stringify({
      id: 1,
      type: 'bench.message',
      data: { message: { body: 'x'.repeat(40) } },
    });
    // Kept-alive connections, as the worker's (a new connection per POST would flatter the worker).
    const direct = createGuardedFetch({ allowPrivate: true, keepAlive: true });
    const n = Math.min(events, 5000);
    let sent = 0;
    const b0 = performance.now();
    const bcpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (sent < n) {
          sent++;
          await postRequest(
            `${hookUrl}/baseline`,
            body,
            { 'content-type': 'application/json' },
            { timeoutMs: 15_000, allowPrivate: true, outbound: direct },
          );
        }
      }),
    );
    const baselinePs = n / ((performance.now() - b0) / 1000);
    const bcpu = process.cpuUsage(bcpu0);
    direct.close();
    const dps = backlogDelivered / deliverS;
    report({
      name: 'webhook-throughput',
      deliveries_per_s: round(dps, 1),
      backlog: events,
      backlog_drained: backlogDelivered >= events,
      deep_first_fifth_per_s: deepDps === null ? null : round(deepDps, 1),
      shallow_last_fifth_per_s: shallowDps === null ? null : round(shallowDps, 1),
      deep_over_shallow: deepDps === null || shallowDps === null ? null : round(deepDps / shallowDps, 2),
      statements_per_delivery: round(statementsPerDelivery, 2),
      claims_per_delivery: round(drainClaims / Math.max(1, backlogDelivered), 3),
      rows_per_claim: round(drainClaimedRows / Math.max(1, drainClaims), 1),
      cpu_ms_per_delivery: round(cpuMsPerDelivery, 3),
      receiver_connections_during_drain: drainConnections,
      lag_p50_ms: round(percentile(lags, 50)),
      lag_p99_ms: round(percentile(lags, 99)),
      events: events + live,
      delivered: received.size,
      undelivered_after_drain: committed.size - received.size,
      bad_signatures_sampled: bad,
      commit_per_s: round(events / commitS, 1),
      baseline: {
        what: 'the same POSTs sent directly, 50 concurrent on kept-alive connections, no outbox',
        posts_per_s: round(baselinePs, 1),
        cpu_ms_per_post: round((bcpu.user + bcpu.system) / 1000 / n, 3),
      },
      ratio: round(dps / baselinePs, 3),
      goal: `>= ${GOAL_DPS} deliveries/s, nothing undelivered`,
      met: dps >= GOAL_DPS && received.size === committed.size && bad === 0,
      machine: machine(db.kind),
    });
  } finally {
    await t.close();
    await new Promise((r) => receiver.close(r));
    await db.close();
  }
});
