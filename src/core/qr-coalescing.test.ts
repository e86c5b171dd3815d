// QR rotations: every rotation reaches live subscribers and the instance row; the durable log keeps only the latest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import type { GatewayEvent } from '../domain/model.js';
import { rawSql } from '../storage/sql-store.js';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ env: { SIMULATOR_QR_ROTATE_MS: '100' } });
}, 180_000);
afterAll(() => t?.close());

describe('QR coalescing', () => {
  it('publishes every rotation live and keeps one qr event per instance in the log', async () => {
    const headers = await createCompany(t, 'qrco');
    const live: GatewayEvent[] = [];
    const unsubscribe = t.gw.bus.subscribe((e) => {
      if (e.type === 'qr' && e.company_id === 'qrco') live.push(e);
    });
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers,
      payload: { company_id: 'qrco', provider: 'simulator' },
    });
    expect(res.statusCode).toBe(201);
    const id = res.json().instance.id as string;
    await eventually(() => new Set(live.map((e) => e.data.qr)).size >= 4, 30_000);
    const stop = await t.app.inject({ method: 'POST', url: `/api/v1/instances/${id}/stop`, headers });
    expect(stop.statusCode).toBe(200);
    unsubscribe();

    const s = rawSql(t.db.store).qschema;
    const rows = await rawSql(t.db.store).sql.query(
      `SELECT id, data FROM ${s}.events WHERE instance_id = $1 AND type = 'qr'`,
      [id],
    );
    expect(rows).toHaveLength(1);
    const latest = live[live.length - 1];
    expect(Number(rows[0].id)).toBe(latest.id);
    expect(rows[0].data).toEqual({ qr: latest.data.qr });
    // A client resuming from the start replays that latest QR only; the status change before it is kept.
    const replay = await t.db.store.events.listSince({ since: 0, limit: 100, instance_id: id });
    expect(replay.filter((e) => e.type === 'qr').map((e) => e.id)).toEqual([latest.id]);
    expect(replay.some((e) => e.type === 'instance.status' && e.data.auth_status === 'qr_ready')).toBe(true);
  }, 60_000);
});
