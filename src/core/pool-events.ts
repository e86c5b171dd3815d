// Which of the events the supervisor publishes tell the warm pool that a provider ended an instance's login.
import type { GatewayEvent } from '../domain/model.js';

/** Provider-reported ends of a login that release a pooled instance (WAHA STOPPED maps to `disconnected`). */
const ENDED: ReadonlySet<string> = new Set(['logged_out', 'failed', 'disconnected']);

/** True when an auth status says a login ended (a pooled instance in it has no live login). */
export function isLoginEnd(authStatus: string): boolean {
  return ENDED.has(authStatus);
}

/**
 * The reason when an event says a provider ended an instance's login, else null. The supervisor writes a
 * provider's `auth` fact as an `instance.status` event when the auth status changes; the same event type also
 * records what the supervisor's own commands did, which must not release anything:
 * - a stop (`stop`, `restart`, shutdown) sets status `stopped` and gives no reason;
 * - a requested logout (`logout`, the pool's own release included) gives the reason `requested`;
 * - a failed start sets status `error` and leaves the auth status as it was.
 * A provider fact that repeats the auth status the row already has publishes no event, so it releases nothing.
 */
export function loginEnded(e: GatewayEvent): string | null {
  if (e.type !== 'instance.status') return null;
  const d = e.data as {
    status?: string;
    auth_status?: string;
    previous_auth_status?: string;
    reason?: string;
  };
  if (!d.auth_status || !ENDED.has(d.auth_status) || d.auth_status === d.previous_auth_status) return null;
  if (d.reason === undefined && d.status === 'stopped') return null;
  if (d.reason === 'requested') return null;
  return d.reason ?? d.auth_status;
}
