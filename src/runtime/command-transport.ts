// What a command transport does: deliver a session command to one replica and bring its answer back.
import { ERROR_CODES, type ErrorCode, SbError } from '../domain/errors.js';
import type { ClusterCommand } from '../ports/leases.js';

/** The owner's answer: a JSON result, or a coded error. */
export type CommandReply =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string; details: unknown } };

/** Runs a command addressed to this replica. */
export type CommandHandler = (cmd: ClusterCommand) => Promise<CommandReply>;

export interface CommandTransport {
  /** Sends `cmd` to replica `target`; resolves with its reply, throws SB_ERR_UNAVAILABLE on timeout. */
  request(target: string, cmd: ClusterCommand, timeoutMs: number): Promise<CommandReply>;
  /** Starts receiving commands addressed to this replica. */
  serve(handler: CommandHandler): Promise<void>;
  close(): Promise<void>;
}

/** Turns a thrown error into a reply (SbError keeps its code; anything else is a provider failure). */
export function errorReply(err: unknown): CommandReply {
  if (err instanceof SbError) {
    return { ok: false, error: { code: err.code, message: err.message, details: err.details } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, error: { code: 'SB_ERR_PROVIDER', message, details: null } };
}

/** Turns an error reply back into the SbError the caller would have seen locally. */
export function replyError(error: { code: string; message: string; details: unknown }): SbError {
  const code: ErrorCode = error.code in ERROR_CODES ? (error.code as ErrorCode) : 'SB_ERR_INTERNAL';
  return new SbError(code, error.message, { details: error.details });
}

/** The error a caller sees when the owning replica does not answer. */
export function ownerGone(target: string, instanceId: string, why: string): SbError {
  return new SbError(
    'SB_ERR_UNAVAILABLE',
    `the replica running this session (${target}) did not answer: ${why}; retry in a few seconds`,
    { details: { instance: instanceId, owner: target } },
  );
}
