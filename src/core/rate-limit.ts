// Rate-limit port and the send guard built on it: one budget per company, 429 with Retry-After when spent.
import { SbError } from '../domain/errors.js';
import type { Instance } from '../domain/model.js';
import type { SendGuard } from './messaging.js';

/** The outcome of taking one point from a key's budget. */
export interface RateDecision {
  allowed: boolean;
  /** Budget of the window. */
  limit: number;
  /** Points left in the current window (0 when refused). */
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** Takes points from a per-key budget (implemented in src/runtime with rate-limiter-flexible). */
export interface RateLimiter {
  consume(key: string): Promise<RateDecision>;
  /** Forgets a key's usage (e.g. after a successful login). */
  reset?(key: string): Promise<void>;
}

/** The standard rate-limit headers for a decision (integer seconds). */
export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  const seconds = String(Math.max(1, Math.ceil(d.resetMs / 1000)));
  return {
    'Retry-After': seconds,
    'X-RateLimit-Limit': String(d.limit),
    'X-RateLimit-Remaining': String(d.remaining),
    'X-RateLimit-Reset': seconds,
  };
}

/** The 429 error for a refused decision. */
export function rateLimited(d: RateDecision, what: string): SbError {
  const headers = rateLimitHeaders(d);
  return new SbError('SB_ERR_RATE_LIMITED', `${what}: retry after ${headers['Retry-After']} s`, {
    headers,
    details: { limit: d.limit, retry_after_seconds: Number(headers['Retry-After']) },
  });
}

/** The company whose send budget an instance uses (a pooled instance uses the company it is assigned to). */
export const budgetOwner = (inst: Pick<Instance, 'company_id' | 'assigned_to'>): string =>
  inst.assigned_to ?? inst.company_id;

/** A SendGuard limiting sends per company; applies to every send path that goes through MessagingService. */
export function sendRateGuard(limiter: RateLimiter): SendGuard {
  return async (inst) => {
    const d = await limiter.consume(`send:${budgetOwner(inst)}`);
    if (!d.allowed) throw rateLimited(d, 'too many messages for this company');
  };
}
