// The cluster command queue port: commands addressed to a replica, claimed by it, answered through the same row.
import type { ClusterCommand } from './leases.js';

/** A queued command's state as the caller polls it. */
export interface QueuedCommandState {
  status: 'pending' | 'running' | 'done' | 'failed' | 'expired';
  /** The owner's reply (JSON), once done or failed. */
  result: unknown | null;
}

/** Commands in the system of record (no Redis): one statement per call, safe behind a transaction-mode pooler. */
export interface ClusterCommandRepo {
  /** Queues `cmd` for replica `target` (status pending); returns its id. */
  enqueue(target: string, cmd: ClusterCommand): Promise<number>;
  /** The command's status and result, or null when it no longer exists. */
  state(id: number): Promise<QueuedCommandState | null>;
  /** Marks a still-pending command expired (its caller gave up); false when it was already taken or gone. */
  expire(id: number): Promise<boolean>;
  /**
   * Takes up to `limit` pending commands of `target`, oldest first, marking them running; rows another claimer
   * holds are skipped, so two pollers never take the same command.
   */
  claim(target: string, limit: number): Promise<Array<{ id: number; cmd: ClusterCommand }>>;
  /** Stores the reply of a command: status done (`ok`) or failed. */
  finish(id: number, ok: boolean, reply: unknown): Promise<void>;
  /** Deletes commands finished over 5 minutes ago or created over an hour ago. */
  cleanup(): Promise<void>;
}
