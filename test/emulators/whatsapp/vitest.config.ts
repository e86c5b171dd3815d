// Standalone vitest config for the WhatsApp emulator suite (the root config may add global setup).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/emulators/whatsapp/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
