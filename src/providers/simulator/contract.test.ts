// The simulator passes the provider contract (QR, scan, inbound, send, stop).
import type { ProviderSession } from '../../ports/provider.js';
import { runProviderContract } from '../contract.js';
import { createSimulatorProvider } from './index.js';

runProviderContract({
  name: 'simulator',
  create: async () => ({
    factory: createSimulatorProvider({ knobs: { ackDelayMs: 5, qrRotateMs: 60_000 } }),
    recipient: '4915123456789@s.whatsapp.net',
    login: async (s: ProviderSession) => {
      await s.control!('scan', { phone: '4915112345678' });
    },
    inbound: async (s, _id, text) => {
      const r = await s.control!('inbound', { from: '4915123456789@s.whatsapp.net', text });
      return String(r.message_id);
    },
  }),
});
