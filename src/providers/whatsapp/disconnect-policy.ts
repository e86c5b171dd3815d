// What to do when Baileys closes the socket: one row per DisconnectReason, plus the reconnect backoff.
import { DisconnectReason } from 'baileys';

/**
 * - `reconnect_now`: reconnect at once (restart required, normal right after a QR scan).
 * - `backoff`: reconnect with exponential backoff and jitter, up to the attempt limit.
 * - `logged_out`: wipe the auth state, report logged out, never reconnect.
 * - `failed`: report failed, never reconnect.
 * - `replaced`: another client took the session: at most one retry, only while we still own it.
 * - `bad_session`: clear the Signal sessions and reconnect (counts as an attempt).
 */
export type DisconnectAction =
  | 'reconnect_now'
  | 'backoff'
  | 'logged_out'
  | 'failed'
  | 'replaced'
  | 'bad_session';

export interface DisconnectRule {
  /** Baileys' DisconnectReason name(s) for the code. */
  reason: string;
  action: DisconnectAction;
}

/** The policy table, keyed by the close status code Baileys reports. */
export const DISCONNECT_POLICY: Readonly<Record<number, DisconnectRule>> = {
  [DisconnectReason.restartRequired]: { reason: 'restart_required', action: 'reconnect_now' },
  [DisconnectReason.connectionClosed]: { reason: 'connection_closed', action: 'backoff' },
  [DisconnectReason.connectionLost]: { reason: 'connection_lost_or_timed_out', action: 'backoff' },
  [DisconnectReason.unavailableService]: { reason: 'unavailable_service', action: 'backoff' },
  [DisconnectReason.loggedOut]: { reason: 'logged_out', action: 'logged_out' },
  [DisconnectReason.forbidden]: { reason: 'forbidden', action: 'failed' },
  [DisconnectReason.multideviceMismatch]: { reason: 'multidevice_mismatch', action: 'failed' },
  [DisconnectReason.connectionReplaced]: { reason: 'connection_replaced', action: 'replaced' },
  [DisconnectReason.badSession]: { reason: 'bad_session', action: 'bad_session' },
};

/** The rule for a close code; unknown codes (and a missing code) are treated as a lost connection. */
export function disconnectRule(code: number | undefined): DisconnectRule {
  return (
    (code !== undefined ? DISCONNECT_POLICY[code] : undefined) ?? {
      reason: code === undefined ? 'unknown' : `unknown_${code}`,
      action: 'backoff',
    }
  );
}

/** The close status code carried by a Baileys `lastDisconnect.error` (a Boom), if any. */
export function closeCode(error: unknown): number | undefined {
  const code = (error as { output?: { statusCode?: unknown } } | undefined)?.output?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Delay before reconnect attempt `attempt` (1-based): base·2^(attempt-1) capped at max, with jitter that keeps
 * between 50 % and 100 % of it (so many sessions dropped together do not reconnect in one storm).
 */
export function backoffDelay(
  attempt: number,
  opts: { baseMs?: number; maxMs?: number; random?: () => number } = {},
) {
  const base = opts.baseMs ?? 1000;
  const max = opts.maxMs ?? 60_000;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  const r = (opts.random ?? Math.random)();
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}
