// API keys: random with a type prefix, shown once, stored as SHA-256, resolved to a Principal; the one issuer.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { notFound, SbError } from '../domain/errors.js';
import type { ApiKeyRecord, Instance, KeyKind, KeyScope, Principal } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Repos, Store } from '../ports/store.js';
import {
  assertCanIssue,
  assertCompany,
  canSeeInstance,
  INSTANCE_KEY_SCOPES,
  requireCompanyLevel,
  requireScope,
} from './access.js';
import { commitWithEvents, type Emit } from './commit.js';
import { GroupCommitter } from './group-commit.js';

const PREFIX: Record<KeyKind, string> = { admin: 'sb_admin_', company: 'sb_co_', instance: 'sb_inst_' };

export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new random key of the given kind: the plaintext (show once), its display prefix and its hash. */
export function generateKey(kind: KeyKind): { key: string; prefix: string; hash: string } {
  const key = PREFIX[kind] + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, PREFIX[kind].length + 6), hash: hashKey(key) };
}

const CACHE_TTL_MS = 1000;
const CACHE_MAX = 10_000;

/**
 * Verifies API keys and caches the answers. A key is hashed (SHA-256, about a microsecond) and its row read at most
 * once a second; `invalidate()` (called on every revocation, rotation, release and deletion, in this process and —
 * through the `key.revoked` event — on every replica) drops every cached answer at once, including the answer of a
 * lookup still in flight, so a revoked key never comes back from the cache. A replica that misses the event still
 * stops accepting the key within 1 s.
 */
export class KeyResolver {
  private readonly cache = new Map<string, { at: number; principal: Principal | null }>();
  /** Lookups in flight by key hash, shared by concurrent requests presenting the same key. */
  private readonly inFlight = new Map<string, Promise<Principal | null>>();
  /** Bumped by every invalidation: a lookup that started before it neither fills the cache nor is shared. */
  private generation = 0;
  private readonly adminHash: Buffer | null;
  /** Key rows read in groups: the hashes first presented while one read runs share the next one (a burst of new keys). */
  private readonly finds = new GroupCommitter<string, ApiKeyRecord | null>((hashes) =>
    this.store.keys.findManyByHash(hashes),
  );
  /** Last-used stamps, group-committed: the keys first seen while one update runs share the next one. */
  private readonly touches = new GroupCommitter<string>(async (ids) => {
    await this.store.keys.touchMany(ids);
    return ids.map(() => undefined);
  });

  /**
   * @param now clock in ms since the epoch (default Date.now)
   * @param warn where a failed last-used update is reported (it never fails a request); default: a process warning
   */
  constructor(
    private readonly store: Store,
    adminApiKey: string | undefined,
    private readonly now: () => number = Date.now,
    private readonly warn: (obj: object, msg: string) => void = (obj, msg) =>
      process.emitWarning(`${msg} ${JSON.stringify(obj)}`),
  ) {
    this.adminHash = adminApiKey ? Buffer.from(hashKey(adminApiKey), 'hex') : null;
  }

  /** The principal a presented key stands for, or null (unknown, revoked, or an instance key whose instance moved). */
  async verify(key: string): Promise<Principal | null> {
    if (!key || key.length > 512) return null;
    const hash = hashKey(key);
    if (this.adminHash && timingSafeEqual(this.adminHash, Buffer.from(hash, 'hex'))) {
      return { kind: 'admin', keyId: null };
    }
    const hit = this.cache.get(hash);
    if (hit && this.now() - hit.at < CACHE_TTL_MS) return hit.principal;
    const running = this.inFlight.get(hash);
    if (running) return running;
    const generation = this.generation;
    const lookup = this.lookup(hash, !hit?.principal).then((principal) => {
      if (this.generation === generation) {
        if (this.cache.size >= CACHE_MAX) this.cache.clear();
        this.cache.set(hash, { at: this.now(), principal });
      }
      return principal;
    });
    this.inFlight.set(hash, lookup);
    try {
      return await lookup;
    } finally {
      if (this.inFlight.get(hash) === lookup) this.inFlight.delete(hash);
    }
  }

  /** The same as `verify` (the name the HTTP and MCP layers use). */
  resolve(key: string): Promise<Principal | null> {
    return this.verify(key);
  }

  /** Forgets every cached answer and every lookup in flight (after a rotation or revocation, on any replica). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
    this.inFlight.clear();
  }

  /** Reads the key's row (and an instance key's instance); records the use when `touch`. */
  private async lookup(hash: string, touch: boolean): Promise<Principal | null> {
    const rec = await this.finds.submit(hash);
    if (!rec || !timingSafeEqual(Buffer.from(rec.hash, 'hex'), Buffer.from(hash, 'hex'))) return null;
    let principal: Principal | null = null;
    if (rec.kind === 'admin') principal = { kind: 'admin', keyId: rec.id };
    else if (rec.kind === 'company' && rec.company_id)
      principal = {
        kind: 'company',
        companyId: rec.company_id,
        keyId: rec.id,
        scopes: rec.scopes,
        instanceIds: rec.instance_ids ?? null,
      };
    else if (rec.kind === 'instance' && rec.company_id && rec.instance_id) {
      // Bound to the instance and to the company it belonged to at issue: dead once the instance moves.
      const inst = await this.store.instances.get(rec.instance_id);
      if (inst && inst.company_id === rec.company_id)
        principal = {
          kind: 'instance',
          companyId: rec.company_id,
          instanceId: rec.instance_id,
          keyId: rec.id,
        };
    }
    if (principal && touch)
      void this.touches
        .submit(rec.id)
        .catch((err) =>
          this.warn({ key_id: rec.id, err: String(err) }, 'could not record when a key was last used'),
        );
    return principal;
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

/** The event type that tells every replica a credential was revoked (data: `key_ids`, `reason`). */
export const KEY_REVOKED_EVENT = 'key.revoked';

export type RevokedListener = (keyIds: readonly string[]) => void;

/** An API key record as the API shows it: never the hash. */
export type KeyView = Omit<ApiKeyRecord, 'hash' | 'instance_id' | 'revoked_at'>;
const view = ({ hash: _h, instance_id: _i, revoked_at: _r, ...v }: ApiKeyRecord): KeyView => v;

/**
 * The one place that issues and revokes API keys (company keys, instance keys and their rotation). Every issue is
 * checked with `assertCanIssue`: a credential never carries more scopes or instances than its issuer. A revocation
 * is written with a `key.revoked` event, so every replica drops the key from its cache and closes its sockets.
 */
export class CredentialService {
  private readonly listeners = new Set<RevokedListener>();
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: { store: Store; bus: EventBus; resolver: KeyResolver }) {
    this.unsubscribe = deps.bus.subscribe((e) => {
      if (e.type !== KEY_REVOKED_EVENT) return;
      const ids = Array.isArray(e.data.key_ids) ? (e.data.key_ids as unknown[]).map(String) : [];
      this.deps.resolver.invalidate();
      for (const l of this.listeners) l(ids);
    });
  }

  /** Calls `listener` with the ids of keys revoked anywhere in the cluster (as soon as this replica learns it). */
  onRevoked(listener: RevokedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  /** Issues a company key; scopes and instances must be within the caller's own (empty scopes = every scope). */
  async issueCompanyKey(
    p: Principal,
    companyId: string,
    input: { scopes?: KeyScope[]; instance_ids?: string[]; label?: string | null },
  ): Promise<{ key: string; api_key: KeyView }> {
    requireCompanyLevel(p);
    requireScope(p, 'admin');
    assertCompany(p, companyId);
    const { store } = this.deps;
    if (!(await store.companies.get(companyId))) throw notFound('company', companyId);
    const scopes = [...new Set(input.scopes ?? [])];
    const instanceIds = input.instance_ids ? [...new Set(input.instance_ids)] : null;
    for (const id of instanceIds ?? []) {
      const inst = await store.instances.get(id);
      if (!inst || !canSeeInstance(p, inst) || inst.company_id !== companyId) throw notFound('instance', id);
    }
    assertCanIssue(p, {
      companyId,
      scopes: scopes.length === 0 ? ['read', 'send', 'control', 'admin'] : scopes,
      instances: instanceIds,
    });
    const k = generateKey('company');
    const rec = await store.keys.insert({
      kind: 'company',
      prefix: k.prefix,
      hash: k.hash,
      company_id: companyId,
      instance_id: null,
      scopes,
      instance_ids: instanceIds,
      label: input.label ?? null,
    });
    return { key: k.key, api_key: view(rec) };
  }

  /** A company's keys (prefixes, never the key); needs the admin scope. */
  async listCompanyKeys(p: Principal, companyId: string): Promise<KeyView[]> {
    requireCompanyLevel(p);
    requireScope(p, 'admin');
    assertCompany(p, companyId);
    return (await this.deps.store.keys.list({ company_id: companyId, kind: 'company' })).map(view);
  }

  /** Revokes a company key; the caller must hold at least the rights of the key it revokes. */
  async revokeCompanyKey(p: Principal, companyId: string, keyId: string): Promise<void> {
    requireCompanyLevel(p);
    requireScope(p, 'admin');
    assertCompany(p, companyId);
    const { store, bus } = this.deps;
    const rec = (await store.keys.list({ company_id: companyId, kind: 'company' })).find(
      (k) => k.id === keyId,
    );
    if (!rec) throw new SbError('SB_ERR_NOT_FOUND', 'no such key');
    assertCanIssue(p, {
      companyId,
      scopes: rec.scopes.length === 0 ? ['read', 'send', 'control', 'admin'] : (rec.scopes as KeyScope[]),
      instances: rec.instance_ids ?? null,
    });
    await commitWithEvents(store, bus, async (tx, emit) => {
      if (await tx.keys.revoke(rec.id)) await this.announce(emit, companyId, null, [rec.id], 'revoked');
    });
    this.deps.resolver.invalidate();
  }

  /**
   * Throws unless the caller may hold an instance key (read, send and control) for the instance; `instanceId`
   * null means a new instance, which only a caller unrestricted to instances may create.
   */
  assertCanIssueInstanceKey(p: Principal, companyId: string, instanceId: string | null): void {
    assertCanIssue(p, {
      companyId,
      scopes: INSTANCE_KEY_SCOPES,
      instances: instanceId === null ? null : [instanceId],
    });
  }

  /** Writes a new instance key for `inst` (bound to its current company) inside `tx`; returns the plaintext. */
  async insertInstanceKey(tx: Repos, inst: Pick<Instance, 'id' | 'company_id'>): Promise<string> {
    const key = generateKey('instance');
    await tx.keys.insert({
      kind: 'instance',
      prefix: key.prefix,
      hash: key.hash,
      company_id: inst.company_id,
      instance_id: inst.id,
      scopes: [],
      label: null,
    });
    return key.key;
  }

  /**
   * Revokes every key of an instance inside `tx` and announces it (sockets close on every replica). For rotation,
   * release and deletion; returns the revoked key ids.
   */
  async revokeInstanceKeys(
    tx: Repos,
    emit: Emit,
    inst: Pick<Instance, 'id' | 'company_id'>,
    reason: string,
  ): Promise<string[]> {
    const ids = (await tx.keys.list({ instance_id: inst.id, kind: 'instance' })).map((k) => k.id);
    await tx.keys.revokeInstanceKeys(inst.id);
    if (ids.length) await this.announce(emit, inst.company_id, inst.id, ids, reason);
    return ids;
  }

  /** Replaces an instance's key; the caller must be able to hold the new key's rights. */
  async rotateInstanceKey(p: Principal, inst: Instance): Promise<string> {
    this.assertCanIssueInstanceKey(p, inst.company_id, inst.id);
    const key = await commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
      await this.revokeInstanceKeys(tx, emit, inst, 'rotated');
      return this.insertInstanceKey(tx, inst);
    });
    this.deps.resolver.invalidate();
    return key;
  }

  private async announce(
    emit: Emit,
    companyId: string,
    instanceId: string | null,
    keyIds: string[],
    reason: string,
  ): Promise<void> {
    await emit({
      type: KEY_REVOKED_EVENT,
      company_id: companyId,
      instance_id: instanceId,
      data: { key_ids: keyIds, reason },
    });
  }
}
