// Spool tests: numbered spool records and temporary spool directories removed after each test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { SpoolRecord } from '../../src/ports/spool.js';

/** Spool record number `n`: message `m<n>` with body `body <n>` of instance i1 (company c1), all at the epoch. */
export const spoolRecord = (n: number): SpoolRecord => ({
  instance_id: 'i1',
  company_id: 'c1',
  spooled_at: new Date(0).toISOString(),
  message: {
    message_id: `m${n}`,
    chat_id: 'chat',
    from: 'a',
    to: 'b',
    body: `body ${n}`,
    type: 'text',
    is_from_me: false,
    is_group: false,
    timestamp: new Date(0).toISOString(),
  },
});

/**
 * Returns `tempDir()`: a new spool path (`<fresh temp dir>/spool`, not created) each call; registers an `afterEach`
 * in the calling file that removes every temp dir handed out. Call once at the top of a test file.
 */
export function useTempSpoolDirs(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = mkdtempSync(join(tmpdir(), 'sb-spool-'));
    dirs.push(d);
    return join(d, 'spool');
  };
}
