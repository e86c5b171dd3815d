// The failover harness (bench/failover.ts) as one JSON benchmark result for the suite: SIGKILL → sessions back.
import { runFailover } from './failover.js';
import { databaseUrl, machine, main, progress, QUICK, report, round } from './support.js';

const EXTRA_MS = 2000;

main(async () => {
  const url = databaseUrl();
  if (!url) {
    // Failover needs several processes on one PostgreSQL; PGlite cannot be shared.
    process.stdout.write(
      `${JSON.stringify({ name: 'failover', skipped: true, reason: 'needs PostgreSQL (BENCH_DATABASE_URL)' })}\n`,
    );
    return;
  }
  const ttlMs = 3000;
  const r = await runFailover({
    databaseUrl: url,
    redisUrl: process.env.REDIS_URL,
    replicas: 3,
    instances: QUICK ? 15 : 50,
    ttlMs,
    renewMs: 500,
    log: (line) => progress(`failover: ${line}`),
  });
  report({
    name: 'failover',
    recovery_ms: r.recoveryMs,
    moved: r.moved,
    overlaps: r.overlaps.length,
    lost: r.lost.length,
    accepted: r.accepted,
    sent_after: r.sentAfter,
    baseline: {
      what: 'the lease TTL: no takeover can start before the dead replica lease expires',
      ttl_ms: r.ttlMs,
    },
    ratio: round(r.ttlMs / Math.max(1, r.recoveryMs), 3),
    goal: `recovery <= TTL + ${EXTRA_MS / 1000} s, no overlap, nothing lost`,
    met: r.recoveryMs <= r.ttlMs + EXTRA_MS && r.overlaps.length === 0 && r.lost.length === 0,
    machine: machine('postgres'),
  });
});
