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
      expect(a.gw.supervisor.has(instanceId)).toBe(true);
      expect(b.gw.supervisor.has(instanceId)).toBe(false);
      expect(await b.gw.cluster!.leases.owner(instanceId)).toBe(`${transport}-a`);

      // The scan arrives at B and is run by A, which holds the session.
      const scan = await b.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/simulate/scan`,
        headers,
        payload: { phone: '15550001111' },
      });
      expect(scan.statusCode).toBe(200);
      expect(scan.json().account).toBe('15550001111@s.whatsapp.net');

      const seenOnB: GatewayEvent[] = [];
      const off = b.gw.bus.subscribe((e) => seenOnB.push(e));
      const send = await b.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/messages`,
        headers,
        payload: { to: '+4915112345678', text: 'via B' },
      });
      expect(send.statusCode).toBeLessThan(300);
      const sent = send.json().message ?? send.json();
      expect(sent.status).toBe('sent');
      expect(b.gw.supervisor.has(instanceId)).toBe(false);
      // Events committed on A (the acks of the message A sent) reach B's subscribers.
      await eventually(() =>
        seenOnB.some((e) => e.type === 'message.ack' && (e.data as { id?: string }).id === sent.id),
      );
      off();

      // A restart arriving at B is run by A: the session stays there and logs in again with the saved account.
      const restart = await b.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/restart`,
        headers,
      });
      expect(restart.statusCode).toBe(200);
      expect(a.gw.supervisor.has(instanceId)).toBe(true);
      expect(b.gw.supervisor.has(instanceId)).toBe(false);
      await eventually(
        async () => (await db.store.instances.get(instanceId))?.auth_status === 'client_ready',
      );
    });

    it('answers a clear error when the owner does not respond', async () => {
      const { forwarder } = b.gw.cluster!;
      const err = await b.gw.cluster!.forwarder.forward({ op: 'start', instance_id: instanceId }).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeNull(); // A is alive: start is a no-op there
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
      await eventually(() => !a.gw.supervisor.has(instanceId), 5000);
      // After the intruder's lease expires one of the two replicas claims the session again, and logs in with the
      // saved account (no QR).
      await eventually(() => a.gw.supervisor.has(instanceId) || b.gw.supervisor.has(instanceId), 8000);
      expect(a.gw.supervisor.has(instanceId) && b.gw.supervisor.has(instanceId)).toBe(false);
      await eventually(
        async () => (await db.store.instances.get(instanceId))?.auth_status === 'client_ready',
      );
    });

    it('hands the sessions of a dead replica over to a live one', async () => {
      const owner = a.gw.supervisor.has(instanceId) ? a : b;
      const other = owner === a ? b : a;
      await owner.gw.cluster!.stop();
      await owner.gw.supervisor.abandon(instanceId); // as if the process died: nothing written, lease left to expire
      await eventually(() => other.gw.supervisor.has(instanceId), 8000);
      const stop = await other.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${instanceId}/stop`,
        headers,
      });
      expect(stop.statusCode).toBe(200);
      expect(other.gw.supervisor.has(instanceId)).toBe(false);
      expect((await db.store.instances.get(instanceId))?.desired_state).toBe('stopped');
    });
  });
