// SQL of the MCP feature: the tool-call audit log, sends waiting for approval, and the reads only MCP tools make.
// Every statement names the instance, so an MCP key's calls never reach another tenant's rows.
import type { Chat } from '../domain/model.js';
import { phoneOfUserJid } from '../domain/phones.js';
import type {
  Approval,
  ApprovalRequest,
  AuditEntry,
  McpApprovalRepo,
  McpAuditRepo,
  McpRepo,
} from '../ports/mcp.js';
import type { SqlRunner } from '../ports/store.js';
import { iso, isoReq } from './rows.js';

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

const toChat = (r: Row): Chat => ({
  instance_id: r.instance_id,
  chat_id: r.chat_id,
  name: r.name ?? null,
  is_group: Boolean(r.is_group),
  last_message_at: iso(r.last_message_at),
  last_message_preview: r.last_message_preview ?? null,
  unread_count: Number(r.unread_count),
  phone: phoneOfUserJid(r.chat_id),
});

const AUDIT_COLS = `id, instance_id::text AS instance_id, company_id, tool, args_digest, outcome, code, latency_ms,
  key_kind, key_id, approval_id::text AS approval_id, created_at`;
const APPROVAL_COLS = `id::text AS id, instance_id::text AS instance_id, company_id, tool, request, status,
  decided_by, reason, message_id::text AS message_id, error_code, created_at, decided_at`;
const CHAT_COLS = `instance_id::text AS instance_id, chat_id, name, is_group, last_message_at, last_message_preview,
  unread_count`;

function auditRepo(sql: SqlRunner, s: string): McpAuditRepo {
  return {
    async insert(e) {
      await sql.query(
        `INSERT INTO ${s}.mcp_audit
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

    async list(f) {
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
      const rows = await sql.query(
        `SELECT ${AUDIT_COLS} FROM ${s}.mcp_audit WHERE instance_id = $1${cond}
         ORDER BY id DESC LIMIT $${params.length}`,
        params,
      );
      const items = rows.slice(0, f.limit).map(toAudit);
      const last = items[items.length - 1];
      return { items, next_cursor: rows.length > f.limit && last ? String(last.id) : null };
    },
  };
}

function approvalRepo(sql: SqlRunner, s: string): McpApprovalRepo {
  return {
    async create(a) {
      const rows = await sql.query(
        `INSERT INTO ${s}.mcp_approvals (instance_id, company_id, tool, request)
         VALUES ($1, $2, $3, $4::jsonb) RETURNING ${APPROVAL_COLS}`,
        [a.instance_id, a.company_id, a.tool, JSON.stringify(a.request)],
      );
      return toApproval(rows[0]!);
    },

    async get(instanceId, id) {
      const rows = await sql.query(
        `SELECT ${APPROVAL_COLS} FROM ${s}.mcp_approvals WHERE instance_id = $1 AND id = $2`,
        [instanceId, id],
      );
      return rows[0] ? toApproval(rows[0]) : null;
    },

    async list(f) {
      const params: unknown[] = [f.instance_id];
      let cond = '';
      if (f.status) {
        params.push(f.status);
        cond = ` AND status = $2`;
      }
      params.push(f.limit);
      const rows = await sql.query(
        `SELECT ${APPROVAL_COLS} FROM ${s}.mcp_approvals WHERE instance_id = $1${cond}
         ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
        params,
      );
      return rows.map(toApproval);
    },

    async decide(instanceId, id, d) {
      const rows = await sql.query(
        `UPDATE ${s}.mcp_approvals SET status = $3, decided_by = $4, reason = $5, decided_at = now()
         WHERE instance_id = $1 AND id = $2 AND status = 'pending' RETURNING ${APPROVAL_COLS}`,
        [instanceId, id, d.status, d.decided_by, d.reason],
      );
      return rows[0] ? toApproval(rows[0]) : null;
    },

    async finish(instanceId, id, r) {
      const rows = await sql.query(
        `UPDATE ${s}.mcp_approvals SET status = $3, message_id = $4, error_code = $5
         WHERE instance_id = $1 AND id = $2 RETURNING ${APPROVAL_COLS}`,
        [instanceId, id, r.status, r.message_id, r.error_code],
      );
      return rows[0] ? toApproval(rows[0]) : null;
    },
  };
}

/** The MCP repository over one SQL connection (the pool, or a transaction's client); `s` is the quoted schema. */
export function createMcpRepo(sql: SqlRunner, s: string): McpRepo {
  return {
    audit: auditRepo(sql, s),
    approvals: approvalRepo(sql, s),

    async chatWroteFirst(instanceId, chatId) {
      const rows = await sql.query(
        `SELECT 1 AS ok FROM ${s}.messages WHERE instance_id = $1 AND chat_id = $2 AND is_from_me = false LIMIT 1`,
        [instanceId, chatId],
      );
      return rows.length > 0;
    },

    async searchGroups(instanceId, f) {
      const like = `%${(f.query ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const rows = await sql.query(
        `SELECT ${CHAT_COLS} FROM ${s}.chats WHERE instance_id = $1 AND is_group
           AND (chat_id ILIKE $2 OR COALESCE(name, '') ILIKE $2)
         ORDER BY last_message_at DESC NULLS LAST, chat_id LIMIT $3`,
        [instanceId, like, f.limit],
      );
      return rows.map(toChat);
    },

    async markChatRead(instanceId, chatId) {
      const rows = await sql.query(
        `UPDATE ${s}.chats SET unread_count = 0 WHERE instance_id = $1 AND chat_id = $2 RETURNING chat_id`,
        [instanceId, chatId],
      );
      return rows.length > 0;
    },

    async recentReceivedIds(instanceId, chatId, limit) {
      const rows = await sql.query<{ message_id: string }>(
        `SELECT message_id FROM ${s}.messages WHERE instance_id = $1 AND chat_id = $2 AND NOT is_from_me
           AND message_id IS NOT NULL ORDER BY ts DESC LIMIT $3`,
        [instanceId, chatId, limit],
      );
      return rows.map((r) => r.message_id);
    },

    async latestEventId(instanceId) {
      const rows = await sql.query<{ id: string | null }>(
        `SELECT max(id)::text AS id FROM ${s}.events WHERE instance_id = $1`,
        [instanceId],
      );
      return Number(rows[0]?.id ?? 0);
    },
  };
}
