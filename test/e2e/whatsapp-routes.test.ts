// HTTP routes of the whatsapp provider (pairing code, media download) over a gateway whose Baileys socket is fake.
import { EventEmitter } from 'node:events';
import type { UserFacingSocketConfig } from 'baileys';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createGateway, type Gateway, shutdownGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import type { ProviderFactory } from '../../src/ports/provider.js';
import { createSimulatorProvider } from '../../src/providers/simulator/index.js';
import { createWhatsAppProvider } from '../../src/providers/whatsapp/index.js';
import type { WaSocket } from '../../src/providers/whatsapp/session.js';
import { openTestDb, type TestDb } from '../support/db.js';
import { eventually, TEST_ADMIN_KEY } from '../support/gateway.js';

/** Just enough of a Baileys socket for login, pairing codes and media. */
class FakeSocket {
  readonly ev = new EventEmitter();
  user: { id: string } | undefined;
  pairingPhones: string[] = [];
  constructor(readonly config: UserFacingSocketConfig) {}
  end(): void {}
  async logout(): Promise<void> {}
  async requestPairingCode(phone: string): Promise<string> {
    this.pairingPhones.push(phone);
    return 'ABCD1234';
  }
  async updateMediaMessage(m: unknown): Promise<unknown> {
    return m;
  }
  async query(): Promise<unknown> {
    return {};
  }
}

describe('whatsapp HTTP routes (fake socket)', () => {
  let db: TestDb;
  let gw: Gateway;
  let app: FastifyInstance;
  const sockets: FakeSocket[] = [];
  const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
  let company: Record<string, string>;
  let other: Record<string, string>;
  let id = '';

  const companyKey = async (cid: string) => {
    await app.inject({
      method: 'POST',
      url: '/api/v1/companies',
      headers: admin,
      payload: { id: cid, name: cid },
    });
    const res = await app.inject({ method: 'POST', url: `/api/v1/companies/${cid}/keys`, headers: admin });
    return { authorization: `Bearer ${res.json().key}` };
  };

  beforeAll(async () => {
    db = await openTestDb();
    const config = loadConfig({
      ADMIN_API_KEY: TEST_ADMIN_KEY,
      LOG_LEVEL: 'silent',
      DATABASE_SCHEMA: db.schema,
    });
    const whatsapp = createWhatsAppProvider({
      store: db.store,
      healthCheckIntervalMs: 0,
      makeSocket: (c) => {
        const s = new FakeSocket(c);
        sockets.push(s);
        return s as unknown as WaSocket;
      },
      downloadMedia: async (raw) => Buffer.from(`%PDF ${raw.key.id}`),
    });
    const simulator = createSimulatorProvider();
    const all: ProviderFactory[] = [whatsapp, simulator];
    const providers = {
      get: (n: string) => all.find((f) => f.name === n || f.aliases?.includes(n)),
      list: () => all,
    };
    gw = createGateway(config, db.store, createLogger('silent'), { providers });
    app = await buildApp(gw);
    await app.ready();
    company = await companyKey('wa-routes');
    other = await companyKey('wa-other');
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: company,
      payload: { company_id: 'wa-routes', provider: 'whatsappweb' },
    });
    expect(res.statusCode).toBe(201);
    id = res.json().instance.id;
    expect(res.json().instance.provider).toBe('whatsapp');
  });

  afterAll(async () => {
    await app?.close();
    if (gw) await shutdownGateway(gw);
    await db?.close();
  });

  it('POST /pairing-code returns the code WhatsApp gave for the phone', async () => {
    await eventually(() => sockets.length === 1);
    sockets[0]!.ev.emit('connection.update', { qr: '2@ref,a,b,c' });
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/pairing-code`,
      headers: company,
      payload: { phone: '+49 151 1234 5678' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ code: 'ABCD1234' });
    expect(sockets[0]!.pairingPhones).toEqual(['4915112345678']);
  });

  it('validates the phone, hides foreign instances and refuses providers without pairing codes', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/pairing-code`,
      headers: company,
      payload: { phone: 'call me' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('SB_ERR_VALIDATION');
    const foreign = await app.inject({
      method: 'POST',
      url: `/api/v1/instances/${id}/pairing-code`,
      headers: other,
      payload: { phone: '+4915112345678' },
    });
    expect(foreign.statusCode).toBe(404);
    const sim = await app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: company,
      payload: { company_id: 'wa-routes', provider: 'simulator' },
    });
    const unsupported = await app.inject({
      method: 'POST',
      url: `/api/v1/instances/${sim.json().instance.id}/pairing-code`,
      headers: company,
      payload: { phone: '+4915112345678' },
    });
    expect(unsupported.statusCode).toBe(422);
    expect(unsupported.json().error.code).toBe('SB_ERR_UNSUPPORTED');
  });

  it('GET /messages/:messageId/media streams the bytes of a received document', async () => {
    const sock = sockets[0]!;
    sock.user = { id: '15550003333:2@s.whatsapp.net' };
    sock.ev.emit('connection.update', { connection: 'open' });
    await eventually(async () => (await gw.store.instances.get(id))?.auth_status === 'client_ready');
    sock.ev.emit('messages.upsert', {
      type: 'notify',
      messages: [
        {
          key: { remoteJid: '4915100000000@s.whatsapp.net', id: 'DOC1', fromMe: false },
          message: {
            documentMessage: {
              mimetype: 'application/pdf',
              fileName: 'bill.pdf',
              mediaKey: Buffer.alloc(32),
            },
          },
          messageTimestamp: 1_700_000_000,
        },
        {
          key: { remoteJid: '4915100000000@s.whatsapp.net', id: 'TXT1', fromMe: false },
          message: { conversation: 'no media here' },
          messageTimestamp: 1_700_000_001,
        },
      ],
    });
    await eventually(() => gw.store.messages.getByMessageId(id, 'TXT1'));
    const stored = await app.inject({
      method: 'GET',
      url: `/api/v1/instances/${id}/messages/DOC1`,
      headers: company,
    });
    expect(stored.json().message.media).toMatchObject({ mimetype: 'application/pdf', filename: 'bill.pdf' });
    expect(stored.body).not.toContain('mediaKey');
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/instances/${id}/messages/DOC1/media`,
      headers: company,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toBe('inline; filename="bill.pdf"');
    expect(res.body).toBe('%PDF DOC1');
    const none = await app.inject({
      method: 'GET',
      url: `/api/v1/instances/${id}/messages/TXT1/media`,
      headers: company,
    });
    expect(none.statusCode).toBe(404);
    const foreign = await app.inject({
      method: 'GET',
      url: `/api/v1/instances/${id}/messages/DOC1/media`,
      headers: other,
    });
    expect(foreign.statusCode).toBe(404);
  });
});
