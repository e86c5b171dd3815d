// The HTTP control API drives pairing and messaging exactly like the in-process methods.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlServer, startControlServer } from './control-server.js';
import { WhatsAppEmulator } from './emulator.js';
import { connectClient, eventually, memoryAuthState, type TestClient } from './test-client.js';
import { restoreWhatsAppTrust, trustEmulator } from './trust.js';

describe('emulator HTTP control server', () => {
  let emu: WhatsAppEmulator;
  let control: ControlServer;
  let client: TestClient | undefined;
  const call = async (
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${control.url}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : undefined,
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: await res.json() };
  };

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    control = await startControlServer(emu, 0);
  });
  afterAll(async () => {
    client?.end();
    await control.close();
    await emu.close();
    restoreWhatsAppTrust();
  });

  it('pairs, sends, delivers and reports over HTTP', async () => {
    const info = await call('GET', '/info');
    expect(info.json.url).toBe(emu.url);
    trustEmulator(Buffer.from(info.json.rootPublicKey, 'base64'));
    const auth = memoryAuthState();
    const first = connectClient(info.json.url, auth);
    const { qr } = await first.waitForUpdate((u) => !!u.qr);
    const paired = await call('POST', '/scan-qr', { qr });
    expect(paired.status).toBe(200);
    const phone: string = paired.json.phone;
    expect(await first.waitForClose()).toBe(515);
    client = connectClient(info.json.url, auth);
    await client.waitForUpdate((u) => u.connection === 'open');
    expect((await call('GET', `/live?phone=${phone}`)).json).toEqual({ count: 1 });
    expect((await call('GET', '/accounts')).json[0].phone).toBe(phone);

    await client.sock.sendMessage('4917000000001@s.whatsapp.net', { text: 'via http' });
    const sent = await eventually(async () => (await call('GET', `/sent?phone=${phone}`)).json[0], 5000);
    expect(sent).toMatchObject({ toPhone: '4917000000001', text: 'via http' });

    const got = new Promise<string | null | undefined>((resolve) =>
      client!.sock.ev.on('messages.upsert', ({ messages }) => {
        const m = messages.find((x) => !x.key.fromMe);
        if (m) resolve(m.message?.conversation);
      }),
    );
    const delivered = await call('POST', '/deliver-text', {
      toPhone: phone,
      fromPhone: '4917000000002',
      text: 'inbound',
    });
    expect(delivered.json.id).toBeTypeOf('string');
    expect(await got).toBe('inbound');

    // groups and identities over HTTP
    const lid = (await call('GET', '/contact-lid?phone=4917000000002')).json.lid;
    expect(lid).toMatch(/^\d+$/);
    const group = await call('POST', '/group', {
      creatorPhone: '4917000000002',
      subject: 'HTTP group',
      participants: [phone],
    });
    expect(group.json.id).toMatch(/@g\.us$/);
    const upserts: string[] = [];
    client.sock.ev.on('messages.upsert', ({ messages }) => {
      for (const m of messages) if (m.key.remoteJid === group.json.id && m.message) upserts.push(m.key.id!);
    });
    const gid = await call('POST', '/deliver-group-text', {
      groupId: group.json.id,
      fromPhone: '4917000000002',
      text: 'hi group',
    });
    await eventually(() => upserts.includes(gid.json.id), 5000);
    expect(
      (
        await call('POST', '/group-change', {
          groupId: group.json.id,
          action: 'add',
          phones: ['4917000000003'],
          actorPhone: '4917000000002',
        })
      ).json,
    ).toEqual({ changed: ['4917000000003@s.whatsapp.net'] });

    expect((await call('POST', '/stream-error', { accountPhone: phone, kind: 'conflict' })).status).toBe(200);
    expect(await client.waitForClose()).toBe(440);
    expect((await call('POST', '/scan-qr', { qr: 'bogus' })).status).toBe(400);
  });

  it('drives history, decrypt failures and silent sockets over HTTP', async () => {
    const auth = memoryAuthState();
    const first = connectClient(emu.url, auth);
    const { qr } = await first.waitForUpdate((u) => !!u.qr);
    const history = [
      { conversations: [{ phone: '4917000000004', messages: [{ id: 'H-HTTP', text: 'old' }] }] },
    ];
    const { phone } = (await call('POST', '/scan-qr', { qr, history })).json;
    await first.waitForClose();
    client = connectClient(emu.url, auth, { syncHistory: true });
    const ids: string[] = [];
    client.sock.ev.on('messages.upsert', ({ messages }) => ids.push(...messages.map((m) => m.key.id ?? '')));
    client.sock.ev.on('messaging-history.set', ({ messages }) =>
      ids.push(...messages.map((m) => m.key.id ?? '')),
    );
    await client.waitForUpdate((u) => u.connection === 'open');
    await eventually(() => ids.includes('H-HTTP'), 5000);
    await call('POST', '/deliver-text', { toPhone: phone, fromPhone: '4917000000003', text: 'first' });
    const bad = await call('POST', '/deliver-undecryptable', {
      toPhone: phone,
      fromPhone: '4917000000003',
      text: 'retried',
      mode: 'recover',
    });
    expect(bad.status).toBe(200);
    await eventually(async () => (await call('GET', `/retries?id=${bad.json.id}`)).json.count === 1, 5000);
    await eventually(() => ids.includes(bad.json.id), 5000);
    const chunk = { syncType: 'RECENT', conversations: [], progress: 100 };
    expect((await call('POST', '/send-history', { accountPhone: phone, chunk })).status).toBe(200);
    expect((await call('POST', '/send-history', { accountPhone: phone })).status).toBe(400);
    expect((await call('POST', '/silence-live', { accountPhone: phone })).json).toEqual({ count: 1 });
  });
});
