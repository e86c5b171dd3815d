// The pool's reading of the events a real gateway's supervisor writes: a login the provider ended releases, while
// the supervisor's own restart, stop, requested logout and start never do (the pool has no hook into it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../test/support/gateway.js';
import type { GatewayEvent } from '../domain/model.js';
import { loginEnded } from './pool-events.js';

let t: TestGateway;
let key: Record<string, string>;

beforeAll(async () => {
  t = await startTestGateway({ env: { SESSION_PROVIDER: 'simulator' } });
  key = await createCompany(t, 'pe1');
}, 120_000);
afterAll(() => t?.close());

/** The instance's `instance.status` events after `since`, with what the pool reads from each. */
const statusEvents = async (instanceId: string, since: number) =>
  (
    await t.gw.store.events.listSince({
      since,
      limit: 1000,
      instance_id: instanceId,
      types: ['instance.status'],
    })
  ).map((e: GatewayEvent) => ({ data: e.data, ended: loginEnded(e) }));

const connected = (id: string) =>
  eventually(async () => (await t.gw.store.instances.get(id))?.auth_status === 'client_ready');

describe('pool events', () => {
  it("the supervisor's restart, stop, requested logout and start end no login", async () => {
    const { id } = await createConnectedInstance(t, key, 'pe1');
    await connected(id);
    const since = await t.gw.store.events.latestId();
    await t.gw.supervisor.restart(id);
    await connected(id);
    await t.gw.supervisor.stop(id);
    await t.gw.supervisor.start(id);
    await connected(id);
    await t.gw.supervisor.logout(id);
    await t.gw.supervisor.start(id);
    const events = await statusEvents(id, since);
    // They did write ends of a login: disconnected by the stops, logged_out by the logout.
    expect(events.map((e) => e.data.auth_status)).toEqual(
      expect.arrayContaining(['disconnected', 'logged_out']),
    );
    expect(events.filter((e) => e.ended !== null)).toEqual([]);
  });

  it('a logout the provider reports ends the login, with its reason', async () => {
    const { id } = await createConnectedInstance(t, key, 'pe1', '15550009999');
    await connected(id);
    const since = await t.gw.store.events.latestId();
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/simulate/logout`,
      headers: t.admin,
      payload: {},
    });
    expect(res.statusCode).toBe(200);
    const ended = await eventually(async () => {
      const events = await statusEvents(id, since);
      return events.filter((e) => e.ended !== null);
    });
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({
      data: { auth_status: 'logged_out', status: 'stopped' },
      ended: 'device removed from phone',
    });
  });

  it('reads only instance.status events', () => {
    const base = { id: 1, instance_id: 'i', company_id: 'c', created_at: new Date(0).toISOString() };
    const ended = { auth_status: 'failed', previous_auth_status: 'qr_ready', status: 'error', reason: 'x' };
    expect(loginEnded({ ...base, type: 'instance.status', data: ended } as unknown as GatewayEvent)).toBe(
      'x',
    );
    expect(loginEnded({ ...base, type: 'logout', data: ended } as unknown as GatewayEvent)).toBeNull();
    const { reason: _r, ...noReason } = ended;
    expect(loginEnded({ ...base, type: 'instance.status', data: noReason } as unknown as GatewayEvent)).toBe(
      'failed',
    );
  });
});
