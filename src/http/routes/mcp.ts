// MCP over Streamable HTTP at /mcp/:instanceId (stateless, JSON responses), plus MCP approvals and audit routes.
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../../domain/errors.js';
import { McpApprovalService } from '../../mcp/approvals.js';
import { parseMcpPolicy } from '../../mcp/policy.js';
import { createMcpServer } from '../../mcp/server.js';
import type { McpServices } from '../../mcp/services.js';
import type { Approval } from '../../ports/mcp.js';
import { principal } from '../auth.js';
import { errorBody, limitQuery, messageView, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';

const approvalView = z
  .object({
    id: z.string(),
    instance_id: z.string(),
    company_id: z.string(),
    tool: z.string(),
    request: z.object({
      to: z.string(),
      text: z.string().optional(),
      reply_to: z.string().nullable().optional(),
      media: z
        .object({
          url: z.string().optional(),
          mimetype: z.string().optional(),
          filename: z.string().optional(),
          caption: z.string().optional(),
          base64_bytes: z.number().optional(),
        })
        .nullable()
        .optional(),
    }),
    status: z.enum(['pending', 'approved', 'rejected', 'sent', 'failed']),
    decided_by: z.string().nullable(),
    reason: z.string().nullable(),
    message_id: z.string().nullable(),
    error_code: z.string().nullable(),
    created_at: z.string(),
    decided_at: z.string().nullable(),
  })
  .meta({ id: 'McpApproval' });

const auditView = z
  .object({
    id: z.number(),
    instance_id: z.string(),
    company_id: z.string(),
    tool: z.string(),
    args_digest: z.string(),
    outcome: z.enum(['ok', 'error', 'denied', 'invalid', 'pending_approval']),
    code: z.string().nullable(),
    latency_ms: z.number(),
    key_kind: z.string().nullable(),
    key_id: z.string().nullable(),
    approval_id: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'McpAuditEntry' });

/** The API view of an approval: inline media is summarised by its size, not repeated. */
function publicApproval(a: Approval) {
  const { base64, ...media } = a.request.media ?? {};
  return {
    ...a,
    request: {
      ...a.request,
      media: a.request.media
        ? { ...media, ...(base64 ? { base64_bytes: Math.floor((base64.length * 3) / 4) } : {}) }
        : null,
    },
  };
}

const approvalParams = uuidParam.extend({ approvalId: z.string().trim().min(1).max(64) });

const methodNotAllowed = {
  jsonrpc: '2.0',
  error: { code: -32000, message: 'Method not allowed: this endpoint is stateless, use POST.' },
  id: null,
};

export const mcpRoutes: FastifyPluginAsyncZod<McpServices & Pick<HttpServices, 'streams'>> = async (
  app,
  { streams, ...services },
) => {
  const approvals = new McpApprovalService(services);
  const tags = ['mcp'];

  app.post(
    '/mcp/:instanceId',
    {
      // Opening MCP needs `read`; the sending tools need `send` as well (hidden without it).
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'MCP Streamable HTTP endpoint of an instance with type_instance "mcp" (JSON-RPC over POST)',
        params: z.object({ instanceId: z.uuid({ message: 'must be a UUID' }) }),
        response: { 409: errorBody, ...stdErrors },
      },
    },
    async (req, reply) => {
      const p = principal(req);
      const inst = await services.instances.get(p, req.params.instanceId);
      if (!inst.type_instance.includes('mcp')) throw notFound('instance', req.params.instanceId);
      const policy = parseMcpPolicy(inst.mcp_schema);
      const built = createMcpServer({ services, principal: p, instance: inst, policy });
      await built.auditRefused(req.body);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      reply.hijack();
      // A request in flight ends at once when its key is revoked (on any replica); the next one gets 401.
      const release = streams.track(p, { close: () => reply.raw.destroy() }, false);
      reply.raw.on('close', () => {
        release();
        void transport.close();
        void built.server.close();
      });
      try {
        await built.server.connect(transport);
        await transport.handleRequest(req.raw, reply.raw, req.body);
      } catch (err) {
        req.log.error({ err }, 'mcp request failed');
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(500, { 'content-type': 'application/json' });
          reply.raw.end(
            JSON.stringify({
              jsonrpc: '2.0',
              error: { code: -32603, message: 'Internal error' },
              id: null,
            }),
          );
        }
      }
    },
  );

  for (const method of ['GET', 'DELETE'] as const) {
    app.route({
      method,
      url: '/mcp/:instanceId',
      schema: { hide: true },
      handler: async (_req, reply) => reply.status(405).header('allow', 'POST').send(methodNotAllowed),
    });
  }

  app.get(
    '/api/v1/instances/:id/mcp/approvals',
    {
      schema: {
        tags,
        summary: 'Sends waiting for (or decided by) a person, newest first',
        params: uuidParam,
        querystring: z
          .object({
            status: z.enum(['pending', 'approved', 'rejected', 'sent', 'failed']).optional(),
            limit: limitQuery,
          })
          .strict(),
        response: { 200: z.object({ approvals: z.array(approvalView) }), ...stdErrors },
      },
    },
    async (req) => ({
      approvals: (await approvals.list(principal(req), req.params.id, req.query)).map(publicApproval),
    }),
  );

  app.get(
    '/api/v1/instances/:id/mcp/approvals/:approvalId',
    {
      schema: {
        tags,
        summary: 'One approval request',
        params: approvalParams,
        response: { 200: z.object({ approval: approvalView }), ...stdErrors },
      },
    },
    async (req) => ({
      approval: publicApproval(await approvals.get(principal(req), req.params.id, req.params.approvalId)),
    }),
  );

  app.post(
    '/api/v1/instances/:id/mcp/approvals/:approvalId',
    {
      config: { scope: 'send' },
      schema: {
        tags,
        summary: 'Approve (and send) or reject an agent send; needs a company or admin key',
        params: approvalParams,
        body: z
          .object({
            decision: z.enum(['approve', 'reject']),
            reason: z.string().trim().min(1).max(500).optional(),
          })
          .strict(),
        response: {
          200: z.object({ approval: approvalView, message: messageView.nullable() }),
          403: errorBody,
          409: errorBody,
          429: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const r = await approvals.decide(principal(req), req.params.id, req.params.approvalId, {
        decision: req.body.decision,
        reason: req.body.reason ?? null,
      });
      return { approval: publicApproval(r.approval), message: r.message };
    },
  );

  app.get(
    '/api/v1/instances/:id/mcp/audit',
    {
      schema: {
        tags,
        summary: 'Audit log of MCP tool calls (tool, arguments digest, outcome, latency), newest first',
        params: uuidParam,
        querystring: z
          .object({
            limit: limitQuery,
            cursor: z
              .string()
              .regex(/^\d{1,18}$/, 'the next_cursor of the previous page')
              .optional(),
            tool: z.string().trim().min(1).max(100).optional(),
          })
          .strict(),
        response: {
          200: z.object({ entries: z.array(auditView), next_cursor: z.string().nullable() }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const inst = await services.instances.get(principal(req), req.params.id);
      const page = await services.store.mcp.audit.list({
        instance_id: inst.id,
        limit: req.query.limit,
        before: req.query.cursor !== undefined ? Number(req.query.cursor) : undefined,
        tool: req.query.tool,
      });
      return { entries: page.items, next_cursor: page.next_cursor };
    },
  );
};
