// The real process: SIGTERM closes sessions without logging out and exits 0; a restart resumes them from the DB.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/gateway.js';
import { spawnGateway } from '../support/process.js';

const ADMIN = 'sb_admin_e2e_shutdown_0123456789abcdef';

describe('graceful shutdown and restart of the gateway process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-e2e-'));
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const env: Record<string, string> = { ADMIN_API_KEY: ADMIN, DATA_DIR: dataDir, DATABASE_SCHEMA: schema };
  if (process.env.TEST_DATABASE_URL) env.DATABASE_URL = process.env.TEST_DATABASE_URL;

  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    if (process.env.TEST_DATABASE_URL) {
      const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  });

  it('exits 0 on SIGTERM and resumes the running session after a restart without a new scan', {
    timeout: 120_000,
  }, async () => {
    const h = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const first = await spawnGateway(env);
    const created = await (
      await fetch(`${first.url}/api/v1/instances`, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({ company_id: 'acme', provider: 'simulator' }),
      })
    ).json();
    const id = created.instance.id;
    await fetch(`${first.url}/api/v1/instances/${id}/simulate/scan`, {
      method: 'POST',
      headers: h,
      body: '{"phone":"15553334444"}',
    });
    const ready = await (await fetch(`${first.url}/api/v1/instances/${id}/status`, { headers: h })).json();
    expect(ready.connected).toBe(true);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('"msg":"bye"');

    const second = await spawnGateway(env);
    try {
      const status = await eventually(async () => {
        const s = await (await fetch(`${second.url}/api/v1/instances/${id}/status`, { headers: h })).json();
        return s.connected ? s : null;
      }, 15_000);
      expect(status).toMatchObject({
        auth_status: 'client_ready',
        account: '15553334444@s.whatsapp.net',
        desired_state: 'running',
      });
      // The shutdown wrote a disconnect, not a logout, and the restart logged in again without a QR.
      const log = await (
        await fetch(`${second.url}/api/v1/instances/${id}/events?limit=500`, { headers: h })
      ).json();
      const types = log.events.map((e: { type: string }) => e.type);
      expect(types).not.toContain('logout');
      expect(types.filter((t: string) => t === 'qr')).toHaveLength(1);
      expect(types.filter((t: string) => t === 'connected')).toHaveLength(2);
      expect(log.events.map((e: { data: { auth_status?: string } }) => e.data.auth_status)).toContain(
        'disconnected',
      );
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });
});
