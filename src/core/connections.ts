// A company's one WhatsApp connection (seed 003 session or seed 004 pooled instance): the repository of a store or
// transaction, and the rollback signal of a lost creation race. The SQL is in storage/pool.ts.
import type { CompanyConnection, CompanyConnectionRepo } from '../ports/pool.js';
import type { Repos } from '../ports/store.js';

export type { CompanyConnection };

/** The company_connections repository of a store or of a transaction (`ConnectionRepo.of(tx)` writes in it). */
export const ConnectionRepo = {
  of(r: Pick<Repos, 'connections'>): CompanyConnectionRepo {
    return r.connections;
  },
};

/** Thrown inside a transaction to roll it back when another request created the company's connection first. */
export class LostRace extends Error {
  constructor() {
    super('the company already has a connection');
    this.name = 'LostRace';
  }
}
