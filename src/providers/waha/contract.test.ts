// The waha provider passes the provider contract against the WAHA emulator (webhooks routed to the session).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WahaEmulator } from '../../../test/emulators/waha/waha-emulator.js';
import type { ProviderSession } from '../../ports/provider.js';
import { runProviderContract } from '../contract.js';
import { createWahaProvider } from './index.js';
import { wahaSessionName } from './session.js';

runProviderContract({
  name: 'waha',
  create: async () => {
    const emu = new WahaEmulator('contract-key');
    await emu.start();
    // Stands in for the gateway's webhook route: hands each WAHA webhook to the instance's session.
    const sessions = new Map<string, ProviderSession>();
    const receiver: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const id = (req.url ?? '').split('/').pop() ?? '';
      const s = sessions.get(id);
      if (!s) {
        res.writeHead(404).end();
        return;
      }
      try {
        await s.control!('webhook', JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200).end('{}');
      } catch {
        res.writeHead(409).end();
      }
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    return {
      factory: createWahaProvider({ url: emu.url, apiKey: 'contract-key', webhookBase: base, qrPollMs: 50 }),
      recipient: '4915123456789@s.whatsapp.net',
      attach: (s, id) => sessions.set(id, s),
      login: async (_s, id) => emu.scan(wahaSessionName(id), '4915112345678'),
      inbound: (_s, id, text) => emu.inbound(wahaSessionName(id), '4915123456789@c.us', text),
      delivered: (_id, text) => emu.callsTo('/api/sendText').some((c) => c.body?.text === text),
      close: async () => {
        receiver.closeAllConnections();
        await new Promise<void>((r) => receiver.close(() => r()));
        await emu.stop();
      },
    };
  },
});
