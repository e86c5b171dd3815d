// The MCP storage port: the tool-call audit log, sends waiting for human approval, and the chat, message and event
// reads only MCP tools make. Every method is scoped to one instance (an MCP key sees only its own instance).
import type { Chat } from '../domain/model.js';

export type AuditOutcome = 'ok' | 'error' | 'denied' | 'invalid' | 'pending_approval';

/** One audited tool call: what was called and how it ended, never the arguments themselves. */
export interface AuditEntry {
  id: number;
  instance_id: string;
  company_id: string;
  tool: string;
  args_digest: string;
  outcome: AuditOutcome;
  code: string | null;
  latency_ms: number;
  key_kind: string | null;
  key_id: string | null;
  approval_id: string | null;
  created_at: string;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'created_at'>;

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'sent' | 'failed';

/** The send an agent asked for, kept until a person approves or rejects it. */
export interface ApprovalRequest {
  to: string;
  text?: string;
  reply_to?: string | null;
  media?: { url?: string; base64?: string; mimetype?: string; filename?: string; caption?: string } | null;
}

export interface Approval {
  id: string;
  instance_id: string;
  company_id: string;
  tool: string;
  request: ApprovalRequest;
  status: ApprovalStatus;
  decided_by: string | null;
  reason: string | null;
  message_id: string | null;
  error_code: string | null;
  created_at: string;
  decided_at: string | null;
}

/** Audit log of MCP tool calls, newest first when listed. */
export interface McpAuditRepo {
  /** Appends one entry; a negative or fractional latency is stored rounded and at least 0. */
  insert(e: NewAuditEntry): Promise<void>;
  /**
   * Entries of one instance, newest first (by id); `before` is the id of the last entry of the previous page,
   * `next_cursor` that id as a string (null on the last page).
   */
  list(f: { instance_id: string; limit: number; before?: number; tool?: string }): Promise<{
    items: AuditEntry[];
    next_cursor: string | null;
  }>;
}

/** Sends waiting for (or decided by) a person. Reads and writes name the instance: another's id is not found. */
export interface McpApprovalRepo {
  create(a: {
    instance_id: string;
    company_id: string;
    tool: string;
    request: ApprovalRequest;
  }): Promise<Approval>;
  /** `id` must be a uuid (callers check; anything else is a driver error). */
  get(instanceId: string, id: string): Promise<Approval | null>;
  /** Newest first (created_at, then id). */
  list(f: { instance_id: string; status?: ApprovalStatus; limit: number }): Promise<Approval[]>;
  /** Moves a pending approval to approved/rejected; null when it was not pending (decided once only). */
  decide(
    instanceId: string,
    id: string,
    d: { status: 'approved' | 'rejected'; decided_by: string; reason: string | null },
  ): Promise<Approval | null>;
  /** Records how an approved send ended; null when there is no such approval of the instance. */
  finish(
    instanceId: string,
    id: string,
    r: { status: 'sent' | 'failed'; message_id: string | null; error_code: string | null },
  ): Promise<Approval | null>;
}

/** The MCP feature's storage. */
export interface McpRepo {
  audit: McpAuditRepo;
  approvals: McpApprovalRepo;
  /** True when the chat has sent the instance at least one message ("only chats that wrote first"). */
  chatWroteFirst(instanceId: string, chatId: string): Promise<boolean>;
  /**
   * Group chats whose id or name contains `query` (case-insensitive, taken literally: `%`, `_` and `\` match
   * themselves; all groups without a query), most recent first, then by chat id.
   */
  searchGroups(instanceId: string, f: { query?: string; limit: number }): Promise<Chat[]>;
  /** Sets the chat's unread count to 0; false when the instance has no such chat. */
  markChatRead(instanceId: string, chatId: string): Promise<boolean>;
  /** Provider ids of the chat's latest received (not own) messages, newest first, at most `limit`. */
  recentReceivedIds(instanceId: string, chatId: string, limit: number): Promise<string[]>;
  /** The instance's latest event id (0 when it has none). */
  latestEventId(instanceId: string): Promise<number>;
}
