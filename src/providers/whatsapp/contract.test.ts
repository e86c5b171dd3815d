// The whatsapp provider passes the provider contract with the real Baileys against the local WhatsApp emulator.
import { WhatsAppEmulator } from '../../../test/emulators/whatsapp/emulator.js';
import { restoreWhatsAppTrust } from '../../../test/emulators/whatsapp/trust.js';
import type { ProviderFactory } from '../../ports/provider.js';
import { runProviderContract } from '../contract.js';
import { createWhatsAppProvider } from './index.js';
import { MemoryAuthStore } from './memory-auth.js';

const CONTACT = '4915112345678';

runProviderContract({
  name: 'whatsapp',
  create: async () => {
    const emu = await WhatsAppEmulator.start();
    const inner = createWhatsAppProvider({
      auth: new MemoryAuthStore(),
      wsUrl: emu.url,
      trustRootKey: emu.rootPublicKey.toString('base64'),
      healthCheckIntervalMs: 0,
    });
    // Each instance gets its own account phone; the latest QR of each is kept for the "scan".
    const qrs = new Map<string, string>();
    const phones = new Map<string, string>();
    const factory: ProviderFactory = {
      ...inner,
      createSession: (ctx) =>
        inner.createSession({
          ...ctx,
          emit: async (e) => {
            if (e.type === 'qr') qrs.set(ctx.instanceId, e.qr);
            await ctx.emit(e);
          },
        }),
    };
    return {
      factory,
      recipient: `${CONTACT}@s.whatsapp.net`,
      login: async (_s, id) => {
        const phone = `1555010${String(phones.size).padStart(4, '0')}`;
        phones.set(id, phone);
        await emu.scanQr(qrs.get(id)!, { phone });
      },
      inbound: (_s, id, text) => emu.deliverText({ toPhone: phones.get(id)!, fromPhone: CONTACT, text }),
      delivered: async (messageId, text) => {
        for (let i = 0; i < 250; i++) {
          for (const phone of phones.values()) {
            if (emu.sentMessages(phone).some((m) => m.id === messageId && m.text === text)) return true;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        return false;
      },
      close: async () => {
        await emu.close();
        restoreWhatsAppTrust();
      },
    };
  },
});
