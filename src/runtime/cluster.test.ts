// Two replicas in one process on one database: commands reach the owner, events reach both, leases move.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../test/support/db.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { requireService } from '../../test/support/services.js';
import type { GatewayEvent } from '../domain/model.js';
import { rawSql } from '../storage/sql-store.js';

const redis = await requireService('redis');

// One database for both transports (each suite leaves its instance stopped, so the other never claims it).
let db: TestDb;
beforeAll(async () => {
  db = await openTestDb();
});
afterAll(async () => db?.close());

const transports: Array<{ transport: string; env: Record<string, string>; skip: boolean }> = [
  { transport: 'sql', env: {}, skip: false },
  { transport: 'redis', env: { REDIS_URL: redis.target }, skip: !redis.available },
];
for (const { transport, env, skip } of transports)
  describe.skipIf(skip)(`cluster of two replicas over ${transport}`, () => {
    let a: TestGateway;
    let b: TestGateway;
    let headers: Record<string, string>;
    let instanceId: string;
    /** The replica holding the first test's session, and the other one. */
    let owner: TestGateway;
    let other: TestGateway;

    const replica = (id: string) =>
      startTestGateway({
        db,
        env: {
          CLUSTER_MODE: 'on',
          REPLICA_ID: `${transport}-${id}`,
          LEASE_RENEW_MS: '100',
          LEASE_TTL_MS: '800',
          CLUSTER_COMMAND_TIMEOUT_MS: '3000',
          // Acks come after the sender recorded the provider's message id (as with a real messenger's latency).
          SIMULATOR_ACK_DELAY_MS: '300',
          ...env,
        },
      });

    beforeAll(async () => {
      a = await replica('a');
      b = await replica('b');
      await a.gw.cluster!.start(a.gw.supervisor);
      await b.gw.cluster!.start(b.gw.supervisor);
      headers = await createCompany(a, `acme-${transport}`);
    });

    afterAll(async () => {
      await b?.close({ keepDb: true });
      await a?.close({ keepDb: true });
    });

    it('runs a session on the replica that took its lease and forwards commands to it', async () => {
      const res = await a.app.inject({
        method: 'POST',
        url: '/api/v1/instances',
        headers,
        payload: { company_id: `acme-${transport}`, provider: 'simulator' },
      });
      expect(res.statusCode).toBe(201);
      instanceId = res.json().instance.id;
      // The replica that took the lease runs the session: usually the one the create reached (it starts the session
      // at once), but the other's claim loop (every 100 ms here) may take the new running instance first. Either is
      // right; the lease says which, and the other one must forward to it.
      const leaseOwner = await b.gw.cluster!.leases.owner(instanceId);
      expect([`${transport}-a`, `${transport}-b`]).toContain(leaseOwner);
      owner = leaseOwner === `${transport}-a` ? a : b;
      other = owner === a ? b : a;
      await eventually(() => owner.gw.supervisor.has(instanceId));
      expect(other.gw.supervisor.has(instanceId)).toBe(false);

      // The scan arrives at the other replica and is run by the owner, which holds the session.
      const scan = await other.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/simulate/scan`,
        headers,
        payload: { phone: '15550001111' },
      });
      expect(scan.statusCode).toBe(200);
      expect(scan.json().account).toBe('15550001111@s.whatsapp.net');

      const seenOnOther: GatewayEvent[] = [];
      const off = other.gw.bus.subscribe((e) => seenOnOther.push(e));
      const send = await other.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/messages`,
        headers,
        payload: { to: '+4915112345678', text: 'via the other replica' },
      });
      expect(send.statusCode).toBeLessThan(300);
      const sent = send.json().message ?? send.json();
      expect(sent.status).toBe('sent');
      expect(other.gw.supervisor.has(instanceId)).toBe(false);
      // Events committed on the owner (the acks of the message it sent) reach the other's subscribers.
      await eventually(() =>
        seenOnOther.some((e) => e.type === 'message.ack' && (e.data as { id?: string }).id === sent.id),
      );
      off();

      // A restart arriving at the other is run by the owner: the session stays there and logs in again with the
      // saved account.
      const restart = await other.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/restart`,
        headers,
      });
      expect(restart.statusCode).toBe(200);
      expect(owner.gw.supervisor.has(instanceId)).toBe(true);
      expect(other.gw.supervisor.has(instanceId)).toBe(false);
      await eventually(
        async () => (await db.store.instances.get(instanceId))?.auth_status === 'client_ready',
      );
    });

    it('answers a clear error when the owner does not respond', async () => {
      const { forwarder } = other.gw.cluster!;
      const err = await forwarder.forward({ op: 'start', instance_id: instanceId }).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeNull(); // the owner is alive: start is a no-op there
      // A replica id with no listener: the transport reports the owner as unavailable.
      const gone = await (
        forwarder as unknown as {
          transport: { request(t: string, c: unknown, ms: number): Promise<unknown> };
        }
      ).transport
        .request('nobody-here', { op: 'stop', instance_id: instanceId }, 300)
        .then(
          () => null,
          (e) => e,
        );
      expect(gone?.code).toBe('SB_ERR_UNAVAILABLE');
    });

    it('stops a session at once when its lease is lost, and another replica claims it', async () => {
      await rawSql(db.store).sql.query(
        `UPDATE ${rawSql(db.store).qschema}.session_leases SET owner = 'intruder', expires_at = now() + interval '1 second' WHERE instance_id = $1`,
        [instanceId],
      );
      await eventually(() => !owner.gw.supervisor.has(instanceId), 5000);
      // After the intruder's lease expires one of the two replicas claims the session again, and logs in with the
      // saved account (no QR).
      await eventually(() => a.gw.supervisor.has(instanceId) || b.gw.supervisor.has(instanceId), 8000);
      expect(a.gw.supervisor.has(instanceId) && b.gw.supervisor.has(instanceId)).toBe(false);
      await eventually(
        async () => (await db.store.instances.get(instanceId))?.auth_status === 'client_ready',
      );
    });

    it('hands the sessions of a dead replica over to a live one', async () => {
      const holder = a.gw.supervisor.has(instanceId) ? a : b;
      const survivor = holder === a ? b : a;
      await holder.gw.cluster!.stop();
      await holder.gw.supervisor.abandon(instanceId); // as if the process died: nothing written, lease left to expire
      await eventually(() => survivor.gw.supervisor.has(instanceId), 8000);
      const stop = await survivor.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/stop`,
        headers,
      });
      expect(stop.statusCode).toBe(200);
      expect(survivor.gw.supervisor.has(instanceId)).toBe(false);
      expect((await db.store.instances.get(instanceId))?.desired_state).toBe('stopped');
    });
  });
