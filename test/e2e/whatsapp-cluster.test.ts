// Two gateway replicas, the real Baileys and the emulator: one live WhatsApp connection per account, always.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhatsAppEmulator } from '../emulators/whatsapp/emulator.js';
import { restoreWhatsAppTrust, trustEmulator } from '../emulators/whatsapp/trust.js';
import { openTestDb, type TestDb } from '../support/db.js';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../support/gateway.js';

const PHONE = '15550004444';

describe('whatsapp sessions across two replicas', () => {
  let emu: WhatsAppEmulator;
  let db: TestDb;
  const replicas: TestGateway[] = [];
  let headers: Record<string, string>;
  let id = '';
  let maxLive = 0;
  let sampler: NodeJS.Timeout | undefined;

  const replica = async (name: string): Promise<TestGateway> => {
    const t = await startTestGateway({
      db,
      env: {
        CLUSTER_MODE: 'on',
        REPLICA_ID: `wa-${name}`,
        // Generous lease timing: a busy test machine must not lose the lease in the middle of a pairing.
        LEASE_RENEW_MS: '300',
        LEASE_TTL_MS: '4000',
        CLUSTER_COMMAND_TIMEOUT_MS: '5000',
        WHATSAPP_WS_URL: emu.url,
        WHATSAPP_TRUST_ROOT_KEY: emu.rootPublicKey.toString('base64'),
        HEALTH_CHECK_INTERVAL_MS: '0',
      },
    });
    await t.gw.cluster!.start(t.gw.supervisor);
    replicas.push(t);
    return t;
  };
  const authOf = async () => (await db.store.instances.get(id))?.auth_status;

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
    db = await openTestDb();
    await replica('a');
    await replica('b');
    headers = await createCompany(replicas[0]!, 'wa-cluster');
    sampler = setInterval(() => {
      maxLive = Math.max(maxLive, emu.liveConnections(PHONE));
    }, 5);
  });

  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    for (const r of replicas.reverse()) await r.close({ keepDb: true }).catch(() => {});
    await db?.close();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('pairs on the replica that holds the lease; the other replica holds no connection', async () => {
    const [a, b] = replicas as [TestGateway, TestGateway];
    const res = await a.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers,
      payload: { company_id: 'wa-cluster', provider: 'whatsapp' },
    });
    expect(res.statusCode).toBe(201);
    id = res.json().instance.id;
    const qr = await eventually(async () => (await db.store.instances.get(id))?.qr, 15_000);
    await emu.scanQr(qr, { phone: PHONE });
    await eventually(async () => (await authOf()) === 'client_ready', 15_000);
    const owner = a.gw.supervisor.has(id) ? a : b;
    const other = owner === a ? b : a;
    expect(other.gw.supervisor.has(id)).toBe(false);
    expect(emu.liveConnections(PHONE)).toBe(1);
  });

  it('a takeover after the owner stops logs in on the other replica from the stored creds, never twice', async () => {
    const owner = replicas.find((r) => r.gw.supervisor.has(id))!;
    const other = replicas.find((r) => r !== owner)!;
    // QR events are coalesced (one per instance in the log): compare ids, so a new QR would show as a new id.
    const qrs = (await db.store.events.listSince({ since: 0, limit: 10_000, instance_id: id }))
      .filter((e) => e.type === 'qr')
      .map((e) => e.id);
    await owner.close({ keepDb: true });
    replicas.splice(replicas.indexOf(owner), 1);
    await eventually(() => other.gw.supervisor.has(id), 20_000);
    await eventually(
      async () => (await authOf()) === 'client_ready' && emu.liveConnections(PHONE) === 1,
      20_000,
    );
    const after = (await db.store.events.listSince({ since: 0, limit: 10_000, instance_id: id }))
      .filter((e) => e.type === 'qr')
      .map((e) => e.id);
    expect(after).toEqual(qrs);
    // a replica joining later does not open a second connection
    const late = await replica('c');
    for (let i = 0; i < 10; i++) await late.gw.cluster!.tick();
    expect(late.gw.supervisor.has(id)).toBe(false);
    expect(emu.liveConnections(PHONE)).toBe(1);
    expect(maxLive).toBe(1);
  });
});
