// Test runner configuration: unit tests beside the code, cross-process tests in test/e2e.
import { defineConfig } from 'vitest/config';

/** Tests that need a server database shared by several processes (or one they can kill): the PostgreSQL passes. */
const POSTGRES_ONLY = [
  'test/e2e/crash-delivery.test.ts',
  'test/e2e/db-faults.test.ts',
  'src/storage/pg-driver.test.ts',
  'src/runtime/leases-default.test.ts',
  'test/e2e/leases-chaos.test.ts',
];
/** Tests of the embedded database's own processes (DATA_DIR lock): they never use TEST_DATABASE_URL, so one pass. */
const EMBEDDED_ONLY = ['test/e2e/data-dir-lock.test.ts'];

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'client/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(process.env.TEST_DATABASE_URL ? EMBEDDED_ONLY : POSTGRES_ONLY)],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
