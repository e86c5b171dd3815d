// What the rest of the gateway uses of the session supervisor. Two implementations: the local supervisor
// (core/supervisor.ts) and the decorator that forwards commands to the replica holding the lease
// (core/session-forwarding.ts), which the composition root hands out in its place.
import { SbError } from '../domain/errors.js';
import type { Instance } from '../domain/model.js';
import type { OutboundMessage, SendResult } from '../ports/provider.js';
import type { GroupCommitter } from './group-commit.js';
import type { InboundSpooler } from './inbound-spooler.js';
import type { FactResult, InboundFact } from './inbound-writer.js';

/** The session commands and the state callers read (every route, service and the lease runtime). */
export interface SessionSupervisor {
  /** Inbound message writes: retried, spooled while the database is down, replayed in order. */
  readonly inbound: InboundSpooler;
  /** Group commit of inbound messages, acks and the finalise step of sends (see core/inbound-writer.ts). */
  readonly writer: GroupCommitter<InboundFact, FactResult>;
  /** Live sessions in this process. */
  readonly size: number;
  /** True when this process holds a live session for the instance. */
  has(instanceId: string): boolean;
  /** Instances whose lease this process holds: live sessions and those in the middle of a restart. */
  liveInstanceIds(): string[];
  /** True when a send can reach a live session (here, or on the replica holding the lease). */
  reachable(instanceId: string): Promise<boolean>;
  /** Opens the instance's session (desired state becomes running). No-op if already live. */
  start(instanceId: string): Promise<Instance>;
  /** Closes the session without logging out. `desired` records whether it should run after a restart. */
  stop(instanceId: string, opts?: { desired?: 'stopped' | 'running' }): Promise<Instance | null>;
  restart(instanceId: string): Promise<Instance>;
  /** Logs the account out and stops the session; the next start needs a new login. */
  logout(instanceId: string): Promise<Instance | null>;
  send(instanceId: string, msg: OutboundMessage): Promise<SendResult>;
  control(
    instanceId: string,
    action: string,
    payload: Record<string, unknown>,
  ): Promise<Record<string, unknown>>;
  /** Closes the local session without writing anything (its lease was lost). No-op when not live here. */
  abandon(instanceId: string): Promise<void>;
  /** Starts every instance whose desired state is running (after a restart); returns how many started. */
  resumeDesired(filter?: (i: Instance) => boolean): Promise<number>;
  /** Graceful shutdown: refuse new sessions, close all (no logout), desired state kept as it was. */
  shutdown(): Promise<void>;
}

/** Thrown by `start` when another replica holds the instance's lease (the forwarding decorator runs it there). */
export class LeaseHeldElsewhere extends SbError {
  constructor(instanceId: string) {
    super('SB_ERR_UNAVAILABLE', 'another replica holds this session', { details: { instance: instanceId } });
  }
}
