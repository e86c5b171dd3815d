// Failover across processes: 3 replicas, 50 sessions, SIGKILL one; its sessions run elsewhere within TTL + 2 s,
// never on two replicas at once (simulator connection logs), and no accepted message is lost.
import { describe, expect, it } from 'vitest';
import { runFailover } from '../../bench/failover.js';
import { requireService } from '../support/services.js';

const postgres = await requireService('postgres');
const redis = await requireService('redis');
const DATABASE_URL = postgres.target;
const REDIS_URL = redis.target;
// 5 s leaves room for a replica starved of CPU on a busy 2-core machine to notice a late renewal before expiry.
const TTL_MS = 5000;
const INSTANCES = 50;

describe.skipIf(!postgres.available || !redis.available)(
  'cluster failover (3 replica processes on PostgreSQL + Redis)',
  () => {
    it('moves a killed replica’s sessions to the others, one owner at a time, losing nothing', {
      timeout: 240_000,
    }, async () => {
      const lines: string[] = [];
      const r = await runFailover({
        databaseUrl: DATABASE_URL,
        redisUrl: REDIS_URL,
        replicas: 3,
        instances: INSTANCES,
        ttlMs: TTL_MS,
        renewMs: 500,
        log: (l) => lines.push(l),
      });
      const context = `${lines.join('\n')}\n${JSON.stringify(r)}`;
      // Sessions were spread over the replicas (each took its share) and the victim held some.
      expect(
        Object.values(r.sessionsPerReplica).every((n) => n > 0),
        context,
      ).toBe(true);
      expect(r.moved, context).toBeGreaterThan(0);
      expect(r.recoveryMs, context).toBeLessThanOrEqual(TTL_MS + 2000);
      expect(r.overlaps, context).toEqual([]);
      expect(r.maxListedTogether, context).toBe(1);
      expect(r.accepted, context).toBe(2 * INSTANCES);
      expect(r.lost, context).toEqual([]);
      expect(r.sentAfter, context).toBe(r.moved);
    });
  },
);
