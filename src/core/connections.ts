// A company's one WhatsApp connection (seed 003 session or seed 004 pooled instance): the rollback signal of a lost
// creation race. The repository is the store's `connections` (SQL in storage/pool.ts).
import type { CompanyConnection } from '../ports/pool.js';

export type { CompanyConnection };

/** Thrown inside a transaction to roll it back when another request created the company's connection first. */
export class LostRace extends Error {
  constructor() {
    super('the company already has a connection');
    this.name = 'LostRace';
  }
}
