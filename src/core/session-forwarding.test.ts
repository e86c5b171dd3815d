// The forwarding decorator: a command goes to the replica holding the lease only when the session is not live here;
// a start is tried here first and asks the owner only when the lease is refused.
import { describe, expect, it } from 'vitest';
import { SbError } from '../domain/errors.js';
import type { ClusterCommand } from '../ports/leases.js';
import { ForwardingSupervisor } from './session-forwarding.js';
import { LeaseHeldElsewhere, type SessionSupervisor } from './supervisor-api.js';

/** A local supervisor that records what ran here; `live` are its sessions, `refuse` the leases it cannot take. */
function fakeLocal(live: string[], refuse: string[] = []) {
  const ran: string[] = [];
  const local = {
    has: (id: string) => live.includes(id),
    start: async (id: string) => {
      if (refuse.includes(id)) throw new LeaseHeldElsewhere(id);
      ran.push(`start ${id}`);
      return { id } as never;
    },
    stop: async (id: string, opts?: { desired?: string }) => {
      ran.push(`stop ${id} ${opts?.desired ?? 'stopped'}`);
      return null;
    },
    restart: async (id: string) => {
      ran.push(`restart ${id}`);
      return { id } as never;
    },
    logout: async (id: string) => {
      ran.push(`logout ${id}`);
      return null;
    },
    send: async (id: string) => {
      ran.push(`send ${id}`);
      return { message_id: 'here' } as never;
    },
    control: async (id: string, action: string) => {
      ran.push(`control ${id} ${action}`);
      return { here: true };
    },
  } as Partial<SessionSupervisor> as SessionSupervisor;
  return { local, ran };
}

/** A forwarder for which `owned` instances run on replica "b" (this one is "a"). */
function fakeForwarder(owned: string[]) {
  const forwarded: string[] = [];
  const forwarder = {
    forward: async (cmd: ClusterCommand) => {
      if (!owned.includes(cmd.instance_id)) return { handled: false as const };
      forwarded.push(`${cmd.op} ${cmd.instance_id}`);
      return { handled: true as const, result: { there: cmd.op } };
    },
  };
  const leases = { replicaId: 'a', owner: async (id: string) => (owned.includes(id) ? 'b' : null) };
  return { forwarder, leases, forwarded };
}

describe('ForwardingSupervisor', () => {
  it('runs every command here while the session is live here, without asking for the owner', async () => {
    const { local, ran } = fakeLocal(['x']);
    const f = fakeForwarder(['x']); // a stale lease of another replica must not matter while the session is here
    const sup = new ForwardingSupervisor(local, f);
    await sup.stop('x');
    await sup.restart('x');
    await sup.logout('x');
    await sup.send('x', { to: '1', text: 'hi' } as never);
    await sup.control('x', 'typing', {});
    expect(ran).toEqual(['stop x stopped', 'restart x', 'logout x', 'send x', 'control x typing']);
    expect(f.forwarded).toEqual([]);
    expect(await sup.reachable('x')).toBe(true);
  });

  it('forwards stop, restart, logout, send and control to the replica holding the lease', async () => {
    const { local, ran } = fakeLocal([]);
    const f = fakeForwarder(['y']);
    const sup = new ForwardingSupervisor(local, f);
    expect(await sup.stop('y')).toEqual({ there: 'stop' });
    expect(await sup.restart('y')).toEqual({ there: 'restart' });
    expect(await sup.logout('y')).toEqual({ there: 'logout' });
    expect(await sup.send('y', { to: '1', text: 'hi' } as never)).toEqual({ there: 'send' });
    expect(await sup.control('y', 'typing', {})).toEqual({ there: 'control' });
    expect(ran).toEqual([]);
    expect(f.forwarded).toEqual(['stop y', 'restart y', 'logout y', 'send y', 'control y']);
    expect(await sup.reachable('y')).toBe(true);
  });

  it('runs a command here when no other replica holds the lease', async () => {
    const { local, ran } = fakeLocal([]);
    const sup = new ForwardingSupervisor(local, fakeForwarder([]));
    await sup.stop('z');
    await sup.logout('z');
    await sup.send('z', { to: '1', text: 'hi' } as never);
    expect(ran).toEqual(['stop z stopped', 'logout z', 'send z']);
    expect(await sup.reachable('z')).toBe(false);
  });

  it('never forwards a stop that keeps the desired state running (this process closing its own session)', async () => {
    const { local, ran } = fakeLocal([]);
    const f = fakeForwarder(['y']);
    await new ForwardingSupervisor(local, f).stop('y', { desired: 'running' });
    expect(ran).toEqual(['stop y running']);
    expect(f.forwarded).toEqual([]);
  });

  it('starts here first; a refused lease runs the start on its owner', async () => {
    const { local, ran } = fakeLocal([], ['y']);
    const f = fakeForwarder(['y']);
    const sup = new ForwardingSupervisor(local, f);
    expect(await sup.start('z')).toEqual({ id: 'z' });
    expect(await sup.start('y')).toEqual({ there: 'start' });
    expect(ran).toEqual(['start z']);
    expect(f.forwarded).toEqual(['start y']);
  });

  it('a refused lease whose owner is gone by the time it is asked fails as before (unavailable)', async () => {
    const { local } = fakeLocal([], ['y']);
    const sup = new ForwardingSupervisor(local, fakeForwarder([]));
    const err = await sup.start('y').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SbError);
    expect(err).toMatchObject({ code: 'SB_ERR_UNAVAILABLE', message: 'another replica holds this session' });
  });
});
