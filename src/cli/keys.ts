// `switchboard keys …`: issue an admin or company key from the command line (shown once).
import type { Config } from '../config/index.js';
import { generateKey } from '../core/keys.js';
import { openStore } from '../storage/index.js';

export async function createKeyCli(
  config: Readonly<Config>,
  opts: { kind: 'admin' | 'company'; company?: string; label?: string },
  out: (line: string) => void,
): Promise<void> {
  const { store } = await openStore(config.database, { what: 'create a key' });
  try {
    if (opts.kind === 'company') {
      if (!opts.company) throw new Error('--company is required for a company key');
      await store.companies.ensure(opts.company);
    }
    const k = generateKey(opts.kind);
    await store.keys.insert({
      kind: opts.kind,
      prefix: k.prefix,
      hash: k.hash,
      company_id: opts.kind === 'company' ? opts.company! : null,
      instance_id: null,
      scopes: [],
      label: opts.label ?? 'cli',
    });
    out(k.key);
  } finally {
    await store.close();
  }
}
