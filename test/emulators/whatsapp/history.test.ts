// Contract test: history sync after a link, as the real Baileys client takes it from the emulator.
import type { BaileysEventMap } from 'baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhatsAppEmulator } from './emulator.js';
import { connectClient, eventually, memoryAuthState, type TestClient } from './test-client.js';
import { restoreWhatsAppTrust, trustEmulator } from './trust.js';

type HistorySet = BaileysEventMap['messaging-history.set'];

describe('emulator history sync with real Baileys', () => {
  let emu: WhatsAppEmulator;
  let client: TestClient | undefined;
  const sets: HistorySet[] = [];

  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
    trustEmulator(emu.rootPublicKey);
  });

  afterAll(async () => {
    client?.end();
    await emu?.close();
    restoreWhatsAppTrust();
  });

  it('sends the history on the first login; Baileys emits messaging-history.set and goes online', async () => {
    const auth = memoryAuthState();
    const first = connectClient(emu.url, auth, { syncHistory: true });
    const { qr } = await first.waitForUpdate((u) => !!u.qr);
    const t = Math.floor(Date.now() / 1000) - 3600;
    await emu.scanQr(qr!, {
      phone: '15550007777',
      history: [
        {
          conversations: [
            {
              phone: '4915100000001',
              name: 'Old Friend',
              messages: [
                { id: 'HIST-1', text: 'from the past', t },
                { id: 'HIST-2', text: 'my old answer', fromMe: true, t: t + 60 },
              ],
            },
          ],
          progress: 100,
        },
      ],
    });
    expect(await first.waitForClose()).toBe(515);
    client = connectClient(emu.url, auth, { syncHistory: true });
    client.sock.ev.on('messaging-history.set', (h) => sets.push(h));
    await client.waitForUpdate((u) => u.connection === 'open');
    // Baileys buffers everything until the history arrived and the app-state sync finished (no 20 s wait).
    const set = await eventually(() => sets.find((s) => s.messages.length > 0), 8_000);
    expect(set.messages.map((m) => [m.key.id, m.key.fromMe, m.message?.conversation])).toEqual([
      ['HIST-1', false, 'from the past'],
      ['HIST-2', true, 'my old answer'],
    ]);
    expect(set.chats.map((c) => c.id)).toEqual(['4915100000001@s.whatsapp.net']);
    expect(auth.creds.accountSyncCounter).toBeGreaterThan(0);
  });

  it('a chunk sent later reaches the live client too', async () => {
    await emu.sendHistory('15550007777', {
      syncType: 'RECENT',
      conversations: [{ phone: '4915100000002', messages: [{ id: 'HIST-3', text: 'recent one' }] }],
      progress: 100,
    });
    const set = await eventually(() => sets.find((s) => s.messages.some((m) => m.key.id === 'HIST-3')));
    expect(set.messages[0]!.message?.conversation).toBe('recent one');
  });

  it('history a device never acknowledged (hist_sync receipt) is sent again at its next login', async () => {
    const auth = memoryAuthState();
    const first = connectClient(emu.url, auth, { syncHistory: true });
    const { qr } = await first.waitForUpdate((u) => !!u.qr);
    // The first history message goes out, then the connection goes deaf: the client's receipt is never heard
    // (and its app-state sync never answered), and the client goes away before finishing.
    const sent = new Promise<void>((resolve) =>
      emu.once('history', ({ phone }: { phone: string }) => {
        emu.silenceLiveConnections(phone);
        resolve();
      }),
    );
    await emu.scanQr(qr!, {
      phone: '15550007778',
      history: [
        { conversations: [{ phone: '4915100000003', messages: [{ id: 'HIST-AGAIN', text: 'again' }] }] },
      ],
    });
    expect(await first.waitForClose()).toBe(515);
    const second = connectClient(emu.url, auth, { syncHistory: true });
    await sent;
    second.end();
    const third = connectClient(emu.url, auth, { syncHistory: true });
    const again: HistorySet[] = [];
    third.sock.ev.on('messaging-history.set', (h) => again.push(h));
    await eventually(() => again.some((s) => s.messages.some((m) => m.key.id === 'HIST-AGAIN')), 8_000);
    third.end();
  });
});
