// WAHA session details: QR rotation re-read while waiting for a scan, unreachable WAHA at start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WahaEmulator } from '../../../test/emulators/waha/waha-emulator.js';
import { openContractSession } from '../contract.js';
import { createWahaProvider } from './index.js';
import { wahaSessionName } from './session.js';

describe('waha session', () => {
  const emu = new WahaEmulator();
  beforeAll(() => emu.start());
  afterAll(() => emu.stop());

  const until = async (fn: () => boolean) => {
    for (let i = 0; i < 500 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(fn()).toBe(true);
  };

  it('re-reads the QR while WAHA waits for a scan and reports each new value once', async () => {
    // No webhook receiver here: the session learns everything from its own reads.
    const factory = createWahaProvider({ url: emu.url, webhookBase: 'http://127.0.0.1:9', qrPollMs: 20 });
    const s = openContractSession({ factory, recipient: 'x', inbound: async () => '' });
    await s.session.start();
    const name = wahaSessionName(s.instanceId);
    const qrs = () => s.events.filter((e) => e.type === 'qr').map((e) => (e.type === 'qr' ? e.qr : ''));
    await until(() => qrs().length === 1);
    expect(qrs()[0]).toBe(emu.sessions.get(name)!.qr);
    const polls = emu.callsTo(`/api/${name}/auth/qr`).length;
    await until(() => emu.callsTo(`/api/${name}/auth/qr`).length >= polls + 3);
    expect(qrs()).toHaveLength(1);
    const next = emu.rotateQr(name);
    await until(() => qrs().length === 2);
    expect(qrs()[1]).toBe(next);
    await s.session.stop();
    expect(emu.sessions.get(name)!.status).toBe('STOPPED');
    const after = emu.callsTo(`/api/${name}/auth/qr`).length;
    await new Promise((r) => setTimeout(r, 100));
    expect(emu.callsTo(`/api/${name}/auth/qr`).length).toBe(after);
  });

  it('notices a scan through its QR reads when the webhook never arrives', async () => {
    const factory = createWahaProvider({ url: emu.url, webhookBase: 'http://127.0.0.1:9', qrPollMs: 20 });
    const s = openContractSession({ factory, recipient: 'x', inbound: async () => '' });
    await s.session.start();
    const name = wahaSessionName(s.instanceId);
    await until(() => s.events.some((e) => e.type === 'qr'));
    emu.scan(name, '4915112345678');
    await until(() => s.events.some((e) => e.type === 'auth' && e.auth_status === 'client_ready'));
    const ready = s.events.find((e) => e.type === 'auth' && e.auth_status === 'client_ready');
    expect(ready).toMatchObject({ account: '4915112345678@s.whatsapp.net' });
    // The webhook to the unreachable receiver failed: the session learned it by itself.
    expect(emu.deliveries.filter((d) => d.event === 'session.status').every((d) => d.status === 0)).toBe(
      true,
    );
    await s.session.stop();
  });

  it('follows what WAHA says now when a status webhook arrives late', async () => {
    // WAHA delivers webhooks concurrently and retries them: a STOPPED of an earlier stop can arrive after the
    // session was started again. Reproduces a CI failure where such a webhook turned a working session disconnected.
    const factory = createWahaProvider({ url: emu.url, webhookBase: 'http://127.0.0.1:9', qrPollMs: 20 });
    const s = openContractSession({ factory, recipient: 'x', inbound: async () => '' });
    await s.session.start();
    const name = wahaSessionName(s.instanceId);
    emu.scan(name, '4915112345678');
    await until(() => s.events.some((e) => e.type === 'auth' && e.auth_status === 'client_ready'));
    await s.session.control!('webhook', {
      event: 'session.status',
      session: name,
      payload: { status: 'STOPPED' },
    });
    expect(
      s.events.filter((e) => e.type === 'auth').map((e) => (e.type === 'auth' ? e.auth_status : '')),
    ).toEqual(['client_ready']);
    await s.session.stop();
  });

  it('fails start with a provider error when WAHA is unreachable', async () => {
    const factory = createWahaProvider({ url: 'http://127.0.0.1:9', webhookBase: 'http://127.0.0.1:9' });
    const s = openContractSession({ factory, recipient: 'x', inbound: async () => '' });
    await expect(s.session.start()).rejects.toMatchObject({ code: 'SB_ERR_PROVIDER' });
  });

  it('refuses to send before the session is WORKING', async () => {
    const factory = createWahaProvider({ url: emu.url, webhookBase: 'http://127.0.0.1:9', qrPollMs: 60_000 });
    const s = openContractSession({ factory, recipient: 'x', inbound: async () => '' });
    await s.session.start();
    await expect(s.session.send({ to: '4915123456789@s.whatsapp.net', text: 'x' })).rejects.toMatchObject({
      code: 'SB_ERR_NOT_CONNECTED',
    });
    await s.session.stop();
  });
});
