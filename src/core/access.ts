// Tenant rules: which principal may see which company, instance and event, and what rights each credential holds.
import { notFound, SbError } from '../domain/errors.js';
import {
  type GatewayEvent,
  type Instance,
  KEY_SCOPES,
  type KeyScope,
  type Principal,
} from '../domain/model.js';

export const isAdmin = (p: Principal): boolean => p.kind === 'admin';

/** The company a non-admin principal is bound to, or null for admin. */
export const companyOf = (p: Principal): string | null => (p.kind === 'admin' ? null : p.companyId);

/** What an instance key and a signed-in user may do: everything except managing keys and users. */
export const INSTANCE_KEY_SCOPES: readonly KeyScope[] = ['read', 'send', 'control'];
/** The rights of the user role (a signed-in user's JWT): read, send and control on every instance of its company. */
export const USER_SCOPES: readonly KeyScope[] = ['read', 'send', 'control'];

export function canSeeCompany(p: Principal, companyId: string): boolean {
  return p.kind === 'admin' || p.companyId === companyId;
}

/**
 * An instance key sees its own instance only while the instance still belongs to the company the key was issued
 * for; a restricted company key sees only its instances; every key sees only its company.
 */
export function canSeeInstance(p: Principal, inst: Pick<Instance, 'id' | 'company_id'>): boolean {
  if (p.kind === 'admin') return true;
  if (p.companyId !== inst.company_id) return false;
  if (p.kind === 'instance') return p.instanceId === inst.id;
  return !p.instanceIds || p.instanceIds.includes(inst.id);
}

/** The instances a principal is limited to, or null when it may see every instance of its company (or all). */
export function instanceSetOf(p: Principal): readonly string[] | null {
  if (p.kind === 'admin') return null;
  if (p.kind === 'instance') return [p.instanceId];
  return p.instanceIds && p.instanceIds.length > 0 ? p.instanceIds : null;
}

/** True when an event may be shown to the principal (live streams and their replay). */
export function canSeeEvent(p: Principal, e: Pick<GatewayEvent, 'company_id' | 'instance_id'>): boolean {
  if (p.kind === 'admin') return true;
  if (e.company_id !== p.companyId) return false;
  const set = instanceSetOf(p);
  return set === null || (e.instance_id !== null && set.includes(e.instance_id));
}

/** The scopes a principal holds (admin and unscoped company keys hold all; instance keys all but admin). */
export function scopesOf(p: Principal): readonly KeyScope[] {
  if (p.kind === 'admin') return KEY_SCOPES;
  if (p.kind === 'instance') return INSTANCE_KEY_SCOPES;
  return p.scopes.length === 0
    ? KEY_SCOPES
    : (p.scopes.filter((s) => (KEY_SCOPES as readonly string[]).includes(s)) as KeyScope[]);
}

/** True when the principal holds the scope. */
export function hasScope(p: Principal, scope: KeyScope): boolean {
  return scopesOf(p).includes(scope);
}

/** Throws 403 SB_ERR_SCOPE_MISSING unless the principal holds the scope. */
export function requireScope(p: Principal, scope: KeyScope): void {
  if (!hasScope(p, scope)) {
    throw new SbError('SB_ERR_SCOPE_MISSING', `this key lacks the "${scope}" scope`, { details: { scope } });
  }
}

/** The rights a credential carries: its company, scopes and instance set (null: every instance of the company). */
export interface Rights {
  companyId: string;
  scopes: readonly KeyScope[];
  instances: readonly string[] | null;
}

/**
 * Throws 403 SB_ERR_RIGHTS_EXCEEDED unless `wanted` is within what the caller holds: the same company, a subset of
 * its scopes and a subset of its instances. Rights never grow through issuing a credential.
 */
export function assertCanIssue(p: Principal, wanted: Rights): void {
  if (p.kind === 'admin') return;
  if (p.companyId !== wanted.companyId) throw notFound('company', wanted.companyId);
  const held = scopesOf(p);
  const extraScopes = wanted.scopes.filter((s) => !held.includes(s));
  const set = instanceSetOf(p);
  const extraInstances =
    set === null ? [] : wanted.instances === null ? ['*'] : wanted.instances.filter((i) => !set.includes(i));
  if (extraScopes.length > 0 || extraInstances.length > 0) {
    throw new SbError(
      'SB_ERR_RIGHTS_EXCEEDED',
      'a credential cannot carry more rights than the caller holds',
      {
        details: { missing_scopes: extraScopes, instances_outside_caller: extraInstances },
      },
    );
  }
}

/** Throws 404 unless the principal may act on the company. */
export function assertCompany(p: Principal, companyId: string): void {
  if (!canSeeCompany(p, companyId)) throw notFound('company', companyId);
}

export function requireAdmin(p: Principal): void {
  if (p.kind !== 'admin') throw new SbError('SB_ERR_FORBIDDEN', 'this operation needs the admin key');
}

/** Instance keys act on their own instance only; company-level operations need a company or admin key. */
export function requireCompanyLevel(p: Principal): void {
  if (p.kind === 'instance')
    throw new SbError('SB_ERR_FORBIDDEN', 'an instance key cannot perform this operation');
}
