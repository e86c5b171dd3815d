// Embedded PGlite with default settings: leases too (one code path), local transports, crash leftovers cleared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../test/support/db.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../test/support/gateway.js';
import { rawSql } from '../storage/sql-store.js';

describe('leases on the embedded database', () => {
  let db: TestDb;
  let first: TestGateway;
  let second: TestGateway | undefined;

  beforeAll(async () => {
    db = await openTestDb('pglite');
    first = await startTestGateway({ db });
  });

  afterAll(async () => {
    await second?.close({ keepDb: true });
    await first?.close({ keepDb: true });
    await db?.close();
  });

  it('takes a lease for every session and resumes at once after a crash (the DATA_DIR lock proves it alone)', async () => {
    await first.gw.cluster!.start(first.gw.supervisor);
    const headers = await createCompany(first, 'acme');
    const { id } = await createConnectedInstance(first, headers, 'acme');
    expect(await first.gw.cluster!.leases.owner(id)).toBe(first.gw.cluster!.replicaId);
    const view = (
      await first.app.inject({ method: 'GET', url: '/api/v1/cluster', headers: first.admin })
    ).json();
    expect(view).toMatchObject({
      enabled: true,
      transport: { events: 'local', commands: 'local' },
      sessions: [id],
    });

    // A crash: nothing written, the lease left behind for an hour.
    await first.gw.cluster!.stop();
    await first.gw.supervisor.abandon(id);
    await rawSql(db.store).sql.query(
      `UPDATE ${rawSql(db.store).qschema}.session_leases SET expires_at = now() + interval '1 hour' WHERE instance_id = $1`,
      [id],
    );

    second = await startTestGateway({ db });
    await second.gw.cluster!.start(second.gw.supervisor);
    await eventually(() => second!.gw.supervisor.has(id));
    expect(await second.gw.cluster!.leases.owner(id)).toBe(second.gw.cluster!.replicaId);
    await eventually(async () => (await db.store.instances.get(id))?.auth_status === 'client_ready');
  });
});
