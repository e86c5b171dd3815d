// Rate limiters on Redis (rate-limiter-flexible + ioredis) with an in-memory insurance limiter for Redis outages.
import { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { RateDecision, RateLimiter } from '../core/rate-limit.js';

interface Log {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export interface RateLimiterFactoryOptions {
  /** redis:// URL; unset means every limiter is in memory (one process). */
  redisUrl?: string;
  /** Prefix of every Redis key, so deployments (and test schemas) sharing a Redis never mix budgets. */
  keyPrefix: string;
  logger: Log;
  /** Milliseconds a Redis command may take before the insurance limiter answers instead (default 500). */
  commandTimeoutMs?: number;
}

/** Makes limiters that share one Redis connection; `close()` ends it. */
export interface RateLimiterFactory {
  readonly backend: 'redis' | 'memory';
  /** True while the Redis connection is up (always false for the memory backend). */
  readonly connected: boolean;
  create(opts: { name: string; points: number; windowMs: number }): RateLimiter;
  close(): Promise<void>;
}

class FlexibleLimiter implements RateLimiter {
  constructor(
    private readonly impl: RateLimiterAbstract,
    private readonly insurance: RateLimiterMemory | null,
    private readonly points: number,
  ) {}

  async consume(key: string): Promise<RateDecision> {
    try {
      const r = await this.impl.consume(key, 1);
      return { allowed: true, limit: this.points, remaining: r.remainingPoints, resetMs: r.msBeforeNext };
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        return { allowed: false, limit: this.points, remaining: 0, resetMs: err.msBeforeNext };
      }
      throw err;
    }
  }

  async reset(key: string): Promise<void> {
    await this.impl.delete(key).catch(() => false);
    await this.insurance?.delete(key).catch(() => false);
  }
}

/** Creates the factory; with a Redis URL one ioredis client serves every limiter and never queues offline. */
export function createRateLimiterFactory(opts: RateLimiterFactoryOptions): RateLimiterFactory {
  let redis: Redis | null = null;
  if (opts.redisUrl) {
    let down = false;
    redis = new Redis(opts.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 500,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      lazyConnect: false,
    });
    redis.on('error', (err: Error) => {
      if (down) return;
      down = true;
      opts.logger.warn({ err: err.message }, 'rate limiter: Redis unavailable, using in-memory limits');
    });
    redis.on('ready', () => {
      if (down) opts.logger.info({}, 'rate limiter: Redis available again');
      down = false;
    });
  }
  return {
    backend: redis ? 'redis' : 'memory',
    get connected() {
      return redis?.status === 'ready';
    },
    create({ name, points, windowMs }) {
      const duration = Math.max(1, Math.ceil(windowMs / 1000));
      const keyPrefix = `${opts.keyPrefix}:${name}`;
      const memory = new RateLimiterMemory({ points, duration, keyPrefix });
      if (!redis) return new FlexibleLimiter(memory, null, points);
      const onRedis = new RateLimiterRedis({
        storeClient: redis,
        points,
        duration,
        keyPrefix,
        insuranceLimiter: memory,
      });
      return new FlexibleLimiter(onRedis, memory, points);
    },
    async close() {
      if (!redis) return;
      const r = redis;
      redis = null;
      await r.quit().catch(() => r.disconnect());
    },
  };
}
