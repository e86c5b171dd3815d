// API keys: random with a type prefix, shown once, stored as SHA-256, resolved to a Principal.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyKind, Principal } from '../domain/model.js';
import type { Store } from '../ports/store.js';

const PREFIX: Record<KeyKind, string> = { admin: 'sb_admin_', company: 'sb_co_', instance: 'sb_inst_' };

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new random key of the given kind: the plaintext (show once), its display prefix and its hash. */
export function generateKey(kind: KeyKind): { key: string; prefix: string; hash: string } {
  const key = PREFIX[kind] + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, PREFIX[kind].length + 6), hash: hashKey(key) };
}

const CACHE_TTL_MS = 1000;

/** Resolves keys to principals; results are cached for at most 1 s so a revocation takes effect within 1 s. */
export class KeyResolver {
  private readonly cache = new Map<string, { at: number; principal: Principal | null }>();
  private readonly adminHash: Buffer | null;

  constructor(
    private readonly store: Store,
    adminApiKey: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.adminHash = adminApiKey ? Buffer.from(hashKey(adminApiKey), 'hex') : null;
  }

  async resolve(key: string): Promise<Principal | null> {
    if (!key || key.length > 512) return null;
    const hash = hashKey(key);
    if (this.adminHash && timingSafeEqual(this.adminHash, Buffer.from(hash, 'hex'))) {
      return { kind: 'admin', keyId: null };
    }
    const hit = this.cache.get(hash);
    if (hit && this.now() - hit.at < CACHE_TTL_MS) return hit.principal;
    const rec = await this.store.keys.findByHash(hash);
    let principal: Principal | null = null;
    if (rec && timingSafeEqual(Buffer.from(rec.hash, 'hex'), Buffer.from(hash, 'hex'))) {
      if (rec.kind === 'admin') principal = { kind: 'admin', keyId: rec.id };
      else if (rec.kind === 'company' && rec.company_id)
        principal = {
          kind: 'company',
          companyId: rec.company_id,
          keyId: rec.id,
          scopes: rec.scopes,
          instanceIds: rec.instance_ids ?? null,
        };
      else if (rec.kind === 'instance' && rec.company_id && rec.instance_id)
        principal = {
          kind: 'instance',
          companyId: rec.company_id,
          instanceId: rec.instance_id,
          keyId: rec.id,
        };
      if (principal && !hit?.principal) void this.store.keys.touch(rec.id).catch(() => {});
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { at: this.now(), principal });
    return principal;
  }

  /** Forgets cached resolutions (after a rotation or revocation in this process). */
  invalidate(): void {
    this.cache.clear();
  }
}

/**
 * Makes sure an admin key exists. With ADMIN_API_KEY configured nothing is stored. Otherwise the first start
 * generates one, stores its hash and returns the plaintext so the caller can print it once.
 */
export async function ensureAdminKey(store: Store, configured: string | undefined): Promise<string | null> {
  if (configured) return null;
  const existing = await store.keys.list({ kind: 'admin' });
  if (existing.length > 0) return null;
  const k = generateKey('admin');
  return store.tx(async (tx) => {
    // Another replica may have raced us: the meta row decides who created the first admin key.
    const owner = await tx.meta.setIfAbsent('admin_key_created', k.hash);
    if (owner !== k.hash) return null;
    await tx.keys.insert({
      kind: 'admin',
      prefix: k.prefix,
      hash: k.hash,
      company_id: null,
      instance_id: null,
      scopes: [],
      label: 'generated at first start',
    });
    return k.key;
  });
}
