// The warm-pool port (seed 004): pooled instances' counts, the atomic claim and the wipe of a released instance,
// and the company_connections table (a company's one WhatsApp connection, pooled or its own session).
import type { GatewayEvent, Instance } from '../domain/model.js';

/** Which instance is a company's WhatsApp, and where it came from. */
export interface CompanyConnection {
  company_id: string;
  instance_id: string;
  source: 'session' | 'pool';
  created_at: string;
}

/** Table access for company_connections (on the pool or inside a transaction). */
export interface CompanyConnectionRepo {
  get(companyId: string): Promise<CompanyConnection | null>;
  byInstance(instanceId: string): Promise<CompanyConnection | null>;
  /** Every connection, or one company's, by company id. */
  list(companyId?: string): Promise<CompanyConnection[]>;
  /** Records the connection unless the company already has one; false when it had (the caller rolls back). */
  insert(companyId: string, instanceId: string, source: 'session' | 'pool'): Promise<boolean>;
  /** Removes an instance's connection; the removed row, or null when it had none. */
  deleteByInstance(instanceId: string): Promise<CompanyConnection | null>;
}

/** Counts of pooled instances. */
export interface PoolCounts {
  /** Every pooled instance. */
  size: number;
  /** Not assigned to a company. */
  free: number;
  /** Free and showing a QR (`auth_status` qr_ready with a QR). */
  ready: number;
  /** Assigned to a company. */
  in_use: number;
}

/** What one claim took: the instance (as it was claimed) and whether the company's connection was recorded. */
export interface PoolClaim {
  instance: Pick<Instance, 'id' | 'name' | 'qr' | 'status' | 'auth_status' | 'account' | 'provider'>;
  /** False when the company already had a connection: the caller must roll the transaction back. */
  recorded: boolean;
  /** Free pooled instances left after this claim. */
  freeAfter: number;
}

/** One company's part of a batch claim (`claimAndAssign`). */
export interface PoolBatchClaim {
  company_id: string;
  /** The instance of the connection the company already had (nothing was claimed for it), else null. */
  existing: string | null;
  /** The instance claimed for the company; null when it had a connection, lost a race, or none was left. */
  instance: PoolClaim['instance'] | null;
  /**
   * True when a free instance was set aside for the company but its connection could not be recorded (another
   * transaction recorded one meanwhile): nothing was claimed for it; the caller reads the company's connection.
   */
  lost: boolean;
}

/** SQL of the warm pool over pooled instances (`instances.is_pooled`). */
export interface PoolRepo {
  counts(): Promise<PoolCounts>;
  /** Ids of free pooled instances, oldest first. */
  freeIds(): Promise<string[]>;
  countFree(): Promise<number>;
  /**
   * In one statement: assigns the oldest free running instance with a QR to the company (its `company_id` and
   * `assigned_to` become the company; `FOR UPDATE SKIP LOCKED`, so concurrent claims take different rows) and
   * records it as the company's connection. Null when no instance is claimable.
   */
  claim(companyId: string): Promise<PoolClaim | null>;
  /**
   * `claim` for many companies in ONE statement, committed on its own (group commit of concurrent connects; no
   * BEGIN/COMMIT round trips): each distinct company without a connection is paired with its own free instance
   * (the oldest go to the earliest companies in the list; `FOR UPDATE SKIP LOCKED`); its connection is recorded
   * and only then is the instance assigned, so a company whose connection was recorded meanwhile by another
   * transaction claims nothing (`lost`) and its instance stays free. A company that has a connection gets its
   * instance id as `existing`. One `pool.assigned` event (data: name, provider) is appended per claimed instance,
   * with its outbox deliveries, in the same statement; `events` are those rows in id order, to publish. One entry
   * per distinct company, in first-appearance order; `freeAfter` counts free instances after the claim.
   */
  claimAndAssign(
    companyIds: readonly string[],
  ): Promise<{ claims: PoolBatchClaim[]; events: GatewayEvent[]; freeAfter: number }>;
  /**
   * Deletes what an instance's previous company left: webhook deliveries, then their endpoints (the order the
   * delivery worker locks them in), messages, chats, contacts, pending acks, cached media, WhatsApp identities,
   * MCP approvals and audit.
   */
  clearInstanceData(instanceId: string): Promise<void>;
  /**
   * Gives an instance back to the pool: `company_id` = the pool company, not assigned, no account, QR or error,
   * a new name, type `api`, empty settings and webhook/MCP/agent configuration.
   */
  resetInstance(instanceId: string, poolCompanyId: string, name: string): Promise<void>;
}
