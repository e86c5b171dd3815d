// The MCP audit trail: every tool call (and every call the SDK refuses) becomes one row: tool, outcome, latency.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { SbError } from '../domain/errors.js';
import type { Instance, Principal } from '../domain/model.js';
import type { AuditOutcome } from '../ports/mcp.js';
import { MCP_TOOLS } from './policy.js';
import { argsDigest, safeError } from './sanitize.js';
import type { McpServices } from './services.js';
import type { ToolDef } from './tool-kit.js';

/** The audit of one request's server: run a tool and record it, or record a call refused before any handler. */
export interface McpAuditor {
  /** Runs the tool; an error becomes an MCP error result (secrets scrubbed). Always records one audit row. */
  call(d: ToolDef, args: unknown): Promise<CallToolResult>;
  /** Records tools/call messages the SDK will refuse: unknown or hidden tools, arguments failing the schema. */
  refused(body: unknown, schemas: ReadonlyMap<string, z.ZodObject>, listed: readonly string[]): Promise<void>;
}

/** How an error code counts in the audit: policy refusals are `denied`, bad input `invalid`, the rest `error`. */
const outcomeOf = (code: string): AuditOutcome =>
  code === 'SB_ERR_FORBIDDEN' || code === 'SB_ERR_RATE_LIMITED' || code === 'SB_ERR_SCOPE_MISSING'
    ? 'denied'
    : code === 'SB_ERR_VALIDATION'
      ? 'invalid'
      : 'error';

export function createAuditor(
  services: Pick<McpServices, 'store' | 'logger'>,
  p: Principal,
  inst: Instance,
  secrets: string[],
): McpAuditor {
  const audit = services.store.mcp.audit;

  // A failed audit write is logged and does not fail the tool call (the call already happened).
  const record = async (
    tool: string,
    args: unknown,
    outcome: AuditOutcome,
    code: string | null,
    latency: number,
    approvalId: string | null,
  ): Promise<void> => {
    try {
      await audit.insert({
        instance_id: inst.id,
        company_id: inst.company_id,
        tool: tool.slice(0, 100),
        args_digest: argsDigest(args),
        outcome,
        code,
        latency_ms: latency,
        key_kind: p.kind,
        key_id: p.keyId,
        approval_id: approvalId,
      });
    } catch (err) {
      services.logger.error({ err, tool, instance_id: inst.id }, 'mcp audit write failed');
    }
  };

  return {
    async call(d, args) {
      const started = performance.now();
      let outcome: AuditOutcome = 'ok';
      let code: string | null = null;
      let approvalId: string | null = null;
      let result: CallToolResult;
      try {
        const out = await d.run(args);
        outcome = out.outcome ?? 'ok';
        approvalId = out.approvalId ?? null;
        result = out.result;
      } catch (err) {
        const e = safeError(err, secrets);
        code = e.code;
        outcome = outcomeOf(e.code);
        if (!(err instanceof SbError) || err.status >= 500) {
          services.logger.warn({ err, tool: d.name, instance_id: inst.id }, 'mcp tool failed');
        }
        result = { content: [{ type: 'text', text: `[${e.code}] ${e.message}` }], isError: true };
      }
      await record(d.name, args, outcome, code, performance.now() - started, approvalId);
      return result;
    },

    async refused(body, schemas, listed) {
      const msgs = Array.isArray(body) ? body : [body];
      for (const m of msgs) {
        if (!m || typeof m !== 'object' || (m as { method?: unknown }).method !== 'tools/call') continue;
        const params = (m as { params?: { name?: unknown; arguments?: unknown } }).params ?? {};
        const name = typeof params.name === 'string' ? params.name : '(none)';
        const schema = schemas.get(name);
        if (!schema || !listed.includes(name)) {
          const known = (MCP_TOOLS as readonly string[]).includes(name);
          await record(
            name,
            params.arguments,
            'denied',
            known ? 'SB_ERR_FORBIDDEN' : 'SB_ERR_NOT_FOUND',
            0,
            null,
          );
        } else if (!schema.safeParse(params.arguments ?? {}).success) {
          await record(name, params.arguments, 'invalid', 'SB_ERR_VALIDATION', 0, null);
        }
      }
    },
  };
}
