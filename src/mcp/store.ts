// MCP repositories beside the feature: the tool-call audit log and the sends waiting for human approval.
import type { Repos } from '../ports/store.js';
import { iso, isoReq } from '../storage/rows.js';

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

type Row = Record<string, any>;

const toAudit = (r: Row): AuditEntry => ({
  id: Number(r.id),
  instance_id: r.instance_id,
  company_id: r.company_id,
  tool: r.tool,
  args_digest: r.args_digest,
  outcome: r.outcome,
  code: r.code ?? null,
  latency_ms: Number(r.latency_ms),
  key_kind: r.key_kind ?? null,
  key_id: r.key_id ?? null,
  approval_id: r.approval_id ?? null,
  created_at: isoReq(r.created_at),
});

const toApproval = (r: Row): Approval => ({
  id: r.id,
  instance_id: r.instance_id,
  company_id: r.company_id,
  tool: r.tool,
  request: (typeof r.request === 'string' ? JSON.parse(r.request) : r.request) as ApprovalRequest,
  status: r.status,
  decided_by: r.decided_by ?? null,
  reason: r.reason ?? null,
  message_id: r.message_id ?? null,
  error_code: r.error_code ?? null,
  created_at: isoReq(r.created_at),
  decided_at: iso(r.decided_at),
});

const AUDIT_COLS = `id, instance_id::text AS instance_id, company_id, tool, args_digest, outcome, code, latency_ms,
  key_kind, key_id, approval_id::text AS approval_id, created_at`;
const APPROVAL_COLS = `id::text AS id, instance_id::text AS instance_id, company_id, tool, request, status,
  decided_by, reason, message_id::text AS message_id, error_code, created_at, decided_at`;

/** Audit log of MCP tool calls, newest first when listed. */
export const mcpAudit = (db: Pick<Repos, 'sql' | 'qschema'>) => ({
  async insert(e: NewAuditEntry): Promise<void> {
    await db.sql.query(
      `INSERT INTO ${db.qschema}.mcp_audit
         (instance_id, company_id, tool, args_digest, outcome, code, latency_ms, key_kind, key_id, approval_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        e.instance_id,
        e.company_id,
        e.tool,
        e.args_digest,
        e.outcome,
        e.code,
        Math.max(0, Math.round(e.latency_ms)),
        e.key_kind,
        e.key_id,
        e.approval_id,
      ],
    );
  },

  /** Entries of one instance, newest first; `before` is the id of the last entry of the previous page. */
  async list(f: { instance_id: string; limit: number; before?: number; tool?: string }): Promise<{
    items: AuditEntry[];
    next_cursor: string | null;
  }> {
    const params: unknown[] = [f.instance_id];
    let cond = '';
    if (f.before !== undefined) {
      params.push(f.before);
      cond += ` AND id < $${params.length}`;
    }
    if (f.tool !== undefined) {
      params.push(f.tool);
      cond += ` AND tool = $${params.length}`;
    }
    params.push(f.limit + 1);
    const rows = await db.sql.query(
      `SELECT ${AUDIT_COLS} FROM ${db.qschema}.mcp_audit WHERE instance_id = $1${cond}
       ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, f.limit).map(toAudit);
    const last = items[items.length - 1];
    return { items, next_cursor: rows.length > f.limit && last ? String(last.id) : null };
  },
});

/** Sends waiting for (or decided by) a person. */
export const mcpApprovals = (db: Pick<Repos, 'sql' | 'qschema'>) => ({
  async create(a: {
    instance_id: string;
    company_id: string;
    tool: string;
    request: ApprovalRequest;
  }): Promise<Approval> {
    const rows = await db.sql.query(
      `INSERT INTO ${db.qschema}.mcp_approvals (instance_id, company_id, tool, request)
       VALUES ($1, $2, $3, $4::jsonb) RETURNING ${APPROVAL_COLS}`,
      [a.instance_id, a.company_id, a.tool, JSON.stringify(a.request)],
    );
    return toApproval(rows[0]!);
  },

  async get(instanceId: string, id: string): Promise<Approval | null> {
    const rows = await db.sql.query(
      `SELECT ${APPROVAL_COLS} FROM ${db.qschema}.mcp_approvals WHERE instance_id = $1 AND id = $2`,
      [instanceId, id],
    );
    return rows[0] ? toApproval(rows[0]) : null;
  },

  async list(f: { instance_id: string; status?: ApprovalStatus; limit: number }): Promise<Approval[]> {
    const params: unknown[] = [f.instance_id];
    let cond = '';
    if (f.status) {
      params.push(f.status);
      cond = ` AND status = $2`;
    }
    params.push(f.limit);
    const rows = await db.sql.query(
      `SELECT ${APPROVAL_COLS} FROM ${db.qschema}.mcp_approvals WHERE instance_id = $1${cond}
       ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toApproval);
  },

  /** Moves a pending approval to approved/rejected; null when it was not pending (decided once only). */
  async decide(
    instanceId: string,
    id: string,
    d: { status: 'approved' | 'rejected'; decided_by: string; reason: string | null },
  ): Promise<Approval | null> {
    const rows = await db.sql.query(
      `UPDATE ${db.qschema}.mcp_approvals SET status = $3, decided_by = $4, reason = $5, decided_at = now()
       WHERE instance_id = $1 AND id = $2 AND status = 'pending' RETURNING ${APPROVAL_COLS}`,
      [instanceId, id, d.status, d.decided_by, d.reason],
    );
    return rows[0] ? toApproval(rows[0]) : null;
  },

  /** Records how an approved send ended. */
  async finish(
    instanceId: string,
    id: string,
    r: { status: 'sent' | 'failed'; message_id: string | null; error_code: string | null },
  ): Promise<Approval | null> {
    const rows = await db.sql.query(
      `UPDATE ${db.qschema}.mcp_approvals SET status = $3, message_id = $4, error_code = $5
       WHERE instance_id = $1 AND id = $2 RETURNING ${APPROVAL_COLS}`,
      [instanceId, id, r.status, r.message_id, r.error_code],
    );
    return rows[0] ? toApproval(rows[0]) : null;
  },
});
