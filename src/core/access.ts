// Tenant rules: which principal may see which company and instance (foreign ids look like missing ones).
import { notFound, SbError } from '../domain/errors.js';
import type { Instance, KeyScope, Principal } from '../domain/model.js';

export const isAdmin = (p: Principal): boolean => p.kind === 'admin';

/** The company a non-admin principal is bound to, or null for admin. */
export const companyOf = (p: Principal): string | null => (p.kind === 'admin' ? null : p.companyId);

export function canSeeCompany(p: Principal, companyId: string): boolean {
  return p.kind === 'admin' || p.companyId === companyId;
}

export function canSeeInstance(p: Principal, inst: Pick<Instance, 'id' | 'company_id'>): boolean {
  if (p.kind === 'admin') return true;
  if (p.kind === 'instance') return p.instanceId === inst.id;
  if (p.instanceIds && !p.instanceIds.includes(inst.id)) return false;
  return p.companyId === inst.company_id;
}

/** True when the principal holds the scope (admin, instance keys and unscoped company keys hold all). */
export function hasScope(p: Principal, scope: KeyScope): boolean {
  return p.kind !== 'company' || p.scopes.length === 0 || p.scopes.includes(scope);
}

/** Throws 403 SB_ERR_SCOPE_MISSING unless the principal holds the scope. */
export function requireScope(p: Principal, scope: KeyScope): void {
  if (!hasScope(p, scope)) {
    throw new SbError('SB_ERR_SCOPE_MISSING', `this key lacks the "${scope}" scope`, { details: { scope } });
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
