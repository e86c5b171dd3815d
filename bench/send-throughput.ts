// Benchmark: POST /api/v1/instances/:id/messages under autocannon vs. a bare Fastify route returning {}.
import { performance } from 'node:perf_hooks';
import Fastify from 'fastify';
import { runLoad } from './autocannon.js';
import {
  type BenchDb,
  connectedInstances,
  machine,
  main,
  openBenchDb,
  profileIfAsked,
  progress,
  QUICK,
  report,
  round,
  sampleDbStates,
  startBenchGateway,
} from './support.js';

const GOAL_RATIO = 0.25;
const INSTANCES = 20;

main(async () => {
  const durationS = QUICK ? 6 : 20;
  const connections = 20;
  const body = JSON.stringify({ to: '+4915123456789', text: 'benchmark' });

  // Same-run baseline: a bare Fastify server (same machine, same load generator, same body and headers).
  progress('send-throughput: baseline (bare Fastify route returning {})');
  const bare = Fastify();
  bare.post('/api/v1/instances/:id/messages', async () => ({}));
  const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
  const headersFor = (auth: string) => ({ 'content-type': 'application/json', authorization: auth });
  await runLoad({
    url: `${bareUrl}/api/v1/instances/x/messages`,
    method: 'POST',
    headers: headersFor('Bearer x'),
    body,
    connections,
    durationS: 1,
  });
  const base = await runLoad({
    url: `${bareUrl}/api/v1/instances/x/messages`,
    method: 'POST',
    headers: headersFor('Bearer x'),
    body,
    connections,
    durationS,
  });
  await bare.close();

  progress('send-throughput: gateway');
  const db = await openBenchDb({ poolSize: 10 });
  const t = await startBenchGateway(db);
  try {
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies',
      headers: t.admin,
      payload: { id: 'bench', name: 'bench' },
    });
    const keyRes = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/bench/keys',
      headers: t.admin,
    });
    if (keyRes.statusCode !== 201) throw new Error(`key creation failed: ${keyRes.body}`);
    const auth = `Bearer ${keyRes.json().key as string}`;
    const ids = await connectedInstances(t.gw, 'bench', INSTANCES);
    const urlOf = (id: string) => `${t.url}/api/v1/instances/${id}/messages`;
    const bodyOf = (i: number) =>
      JSON.stringify({ to: `+49151234${String(10_000 + i).slice(-5)}`, text: 'benchmark' });
    // Check one request by hand first: a benchmark of error responses would be worthless.
    const probe = await fetch(urlOf(ids[0]), { method: 'POST', headers: headersFor(auth), body: bodyOf(0) });
    if (probe.status !== 201) throw new Error(`send probe failed: ${probe.status} ${await probe.text()}`);
    // Headline: sends spread over INSTANCES instances and as many chats (a multi-tenant gateway's traffic).
    const spread = ids.map((id, i) => ({
      url: urlOf(id),
      method: 'POST',
      headers: headersFor(auth),
      body: bodyOf(i),
    }));
    await runLoad({ url: t.url, requests: spread, connections, durationS: 1 });
    const before = db.statements();
    // Group commit during the headline load: pending-row inserts (messaging.pending) and finalise batches
    // (supervisor.writer, which also carries acks and inbound facts).
    const pendingBefore = { ...t.gw.messaging.pending.stats };
    const finaliseBefore = { ...t.gw.supervisor.writer.stats };
    const stopSampling = await sampleDbStates(db);
    const stopProfile = await profileIfAsked();
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const ours = await runLoad({ url: t.url, requests: spread, connections, durationS });
    const cpu = process.cpuUsage(cpuBefore);
    const wallS = (performance.now() - wallBefore) / 1000;
    await stopProfile();
    const dbStates = await stopSampling();
    const statementsPerSend = (db.statements() - before) / Math.max(1, ours.total);
    const perFlush = (now: { flushes: number; items: number }, then: { flushes: number; items: number }) =>
      round((now.items - then.items) / Math.max(1, now.flushes - then.flushes), 1);
    const groupCommit = {
      pending_rows_per_insert: perFlush(t.gw.messaging.pending.stats, pendingBefore),
      facts_per_finalise_batch: perFlush(t.gw.supervisor.writer.stats, finaliseBefore),
    };
    if (ours.non2xx > 0 || ours.errors > 0) {
      throw new Error(`send load had ${ours.non2xx} non-2xx responses and ${ours.errors} errors`);
    }
    // Second figure: every send on ONE instance to ONE chat (the instance and chat rows are hot).
    progress('send-throughput: gateway, one instance and one chat');
    const hot = await runLoad({
      url: urlOf(ids[0]),
      method: 'POST',
      headers: headersFor(auth),
      body: bodyOf(0),
      connections,
      durationS: Math.max(4, Math.round(durationS / 2)),
    });
    const [{ n }] = await db.driver.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${db.schema}".messages WHERE is_from_me`,
    );
    progress('send-throughput: database ceiling (the same statements with plain SQL)');
    const ceiling = await sqlCeiling(db, ids, connections, Math.max(3, Math.round(durationS / 2)));
    const ratio = ours.rps / base.rps;
    report({
      name: 'send-throughput',
      rps: round(ours.rps, 1),
      p50_ms: ours.p50_ms,
      p99_ms: ours.p99_ms,
      requests: ours.total,
      stored: n,
      instances: INSTANCES,
      connections,
      one_instance_rps: round(hot.rps, 1),
      one_instance_p99_ms: hot.p99_ms,
      duration_s: durationS,
      baseline: {
        what: 'bare Fastify POST route returning {}',
        rps: round(base.rps, 1),
        p50_ms: base.p50_ms,
        p99_ms: base.p99_ms,
        db_ceiling_rps: round(ceiling, 1),
        db_ceiling_what:
          'the 8 statements of a send before caching and group commit (read instance, insert, 1 tx of 4 writes), one send at a time per connection, plain SQL',
      },
      statements_per_send: round(statementsPerSend, 1),
      group_commit: groupCommit,
      // The gateway's CPU (user + system, every thread of this process; the load generator is a child process).
      cpu_ms_per_send: round((cpu.user + cpu.system) / 1000 / Math.max(1, ours.total), 3),
      // Cores the gateway kept busy during that load: well under the machine's cores means the sends were bounded
      // by their latency (commits, connections), not by the gateway's CPU.
      gateway_cores_busy: round((cpu.user + cpu.system) / 1e6 / wallS, 2),
      db_connection_states: dbStates,
      ratio: round(ratio, 3),
      goal: `>= ${GOAL_RATIO} of baseline req/s`,
      met: ratio >= GOAL_RATIO,
      machine: machine(db.kind),
    });
  } finally {
    await t.close();
    await db.close();
  }
});

/** Sends per second the database alone sustains: the statements of one send, `workers` at a time, plain SQL. */
async function sqlCeiling(db: BenchDb, ids: string[], workers: number, durationS: number): Promise<number> {
  const q = `"${db.schema}"`;
  const end = performance.now() + durationS * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const id = ids[(w + i) % ids.length];
        const chat = `49151234${String(10_000 + w).slice(-5)}@s.whatsapp.net`;
        await db.driver.query(`SELECT * FROM ${q}.instances WHERE id = $1`, [id]);
        const [m] = await db.driver.query<{ id: string }>(
          `INSERT INTO ${q}.messages (instance_id, company_id, chat_id, from_id, to_id, body, type, is_from_me, status, ts)
           VALUES ($1, 'bench', $2, NULL, $2, 'ceiling', 'text', true, 'pending', now()) RETURNING id`,
          [id, chat],
        );
        await db.driver.transaction(async (sql) => {
          await sql.query(`UPDATE ${q}.messages SET status = 'sent', message_id = $2 WHERE id = $1`, [
            m.id,
            `CEIL${w}x${i}`,
          ]);
          await sql.query(
            `INSERT INTO ${q}.chats (instance_id, chat_id, is_group, last_message_at, last_message_preview, unread_count)
             VALUES ($1, $2, false, now(), 'ceiling', 0)
             ON CONFLICT (instance_id, chat_id) DO UPDATE SET last_message_at = excluded.last_message_at,
               last_message_preview = excluded.last_message_preview`,
            [id, chat],
          );
          await sql.query(`UPDATE ${q}.instances SET last_activity_at = now() WHERE id = $1`, [id]);
          await sql.query(
            `INSERT INTO ${q}.events (type, instance_id, company_id, data) VALUES ('bench', $1, 'bench', $2)`,
            [id, JSON.stringify({ id: m.id })],
          );
        });
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}
