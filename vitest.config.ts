// Test runner configuration: unit tests beside the code, cross-process tests in test/e2e.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The SIGKILL crash test needs a server database shared by several processes: it runs in the PostgreSQL pass.
    exclude: [
      '**/node_modules/**',
      ...(process.env.TEST_DATABASE_URL
        ? []
        : [
            'test/e2e/crash-delivery.test.ts',
            'test/e2e/db-faults.test.ts',
            'src/storage/pg-driver.test.ts',
            'src/runtime/leases-default.test.ts',
            'test/e2e/leases-chaos.test.ts',
          ]),
    ],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
