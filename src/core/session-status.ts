// How a session's status changes are written: the instance row and its `instance.status` event in one transaction,
// by the lifecycle (core/supervisor.ts) and by what a provider reports (core/session-events.ts) alike.
import type { Instance, NewEvent } from '../domain/model.js';
import type { AuthStatus } from '../domain/statuses.js';
import type { EventBus } from '../ports/event-bus.js';
import type { InstancePatch, Repos, Store } from '../ports/store.js';
import { commitWithEvents, type Emit } from './commit.js';

/** What a status write needs: the store it commits to and the bus it publishes on after commit. */
export interface StatusDeps {
  store: Store;
  bus: EventBus;
}

/** Auth statuses of a logged-in, connected account. */
export const CONNECTED: ReadonlySet<AuthStatus> = new Set(['authenticated', 'client_ready']);

/**
 * Writes a status/auth change and its `instance.status` event in one transaction; `extra` adds further writes and
 * events to it. Null when the instance does not exist.
 */
export async function transition(
  deps: StatusDeps,
  instanceId: string,
  patch: InstancePatch,
  extra: (tx: Repos, emit: Emit, before: Instance, after: Instance) => Promise<void> = async () => {},
  reason?: string,
): Promise<Instance | null> {
  return commitWithEvents(deps.store, deps.bus, async (tx, emit, emitMany) => {
    const before = await tx.instances.getForUpdate(instanceId);
    if (!before) return null;
    const after = (await tx.instances.update(instanceId, patch))!;
    // The status event is held back and written in one statement with the first event `extra` emits (a `connected`
    // or `logout` that comes with it), or alone at the end: one round trip fewer inside the row lock.
    const held: NewEvent[] = [];
    if (before.status !== after.status || before.auth_status !== after.auth_status) {
      held.push({
        type: 'instance.status',
        instance_id: instanceId,
        company_id: after.company_id,
        data: {
          status: after.status,
          auth_status: after.auth_status,
          previous_status: before.status,
          previous_auth_status: before.auth_status,
          account: after.account,
          ...(reason ? { reason } : {}),
        },
      });
    }
    const withHeld: Emit = async (e) => {
      if (!held.length) return emit(e);
      const evs = await emitMany([...held.splice(0), e]);
      return evs[evs.length - 1]!;
    };
    await extra(tx, withHeld, before, after);
    await emitMany(held);
    return after;
  });
}

/** Records a logout (requested, or the messenger ended the login): stopped, no account, never resumed. */
export function markLoggedOut(
  deps: StatusDeps,
  instanceId: string,
  reason: string,
): Promise<Instance | null> {
  return transition(
    deps,
    instanceId,
    { status: 'stopped', auth_status: 'logged_out', desired_state: 'stopped', account: null, qr: null },
    async (_tx, emit, before, after) => {
      if (before.auth_status !== 'logged_out') {
        await emit({
          type: 'logout',
          instance_id: instanceId,
          company_id: after.company_id,
          data: { reason, account: before.account },
        });
      }
    },
    reason,
  );
}

/** Records a session whose provider failed to start: status error, and an `error` event (`start_failed`). */
export function markStartFailed(
  deps: StatusDeps,
  instanceId: string,
  message: string,
): Promise<Instance | null> {
  return transition(
    deps,
    instanceId,
    { status: 'error', last_error: message },
    async (_tx, emit, _b, after) => {
      await emit({
        type: 'error',
        instance_id: instanceId,
        company_id: after.company_id,
        data: { message, code: 'start_failed' },
      });
    },
  );
}

/** The auth status a session starts with: a known login reconnects, an ended one asks for a new login. */
export function authOnStart(auth: AuthStatus): AuthStatus {
  if (CONNECTED.has(auth)) return 'reconnecting';
  return auth === 'logged_out' || auth === 'failed' ? 'pending' : auth;
}

/** The auth status a stopped session keeps: a login is kept (disconnected), an unscanned QR is dropped. */
export function authOnStop(auth: AuthStatus): AuthStatus {
  if (CONNECTED.has(auth) || auth === 'reconnecting') return 'disconnected';
  return auth === 'qr_ready' ? 'pending' : auth;
}
