// The MCP server of one instance for one caller: the tool groups (tools/), filtered by capability and policy, audited.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { hasScope } from '../core/access.js';
import type { ProviderFactory } from '../ports/provider.js';
import { createAuditor } from './audit.js';
import { MCP_TOOLS, SENDING_TOOLS } from './policy.js';
import { chatIdOf, wroteFirst } from './recipients.js';
import { registerResources } from './resources.js';
import { UNTRUSTED_NOTICE } from './sanitize.js';
import { guardedSend } from './send-gate.js';
import type { McpServerContext, ToolDef, ToolScope } from './tool-kit.js';
import { chatTools } from './tools/chats.js';
import { groupTools } from './tools/groups.js';
import { instanceTools } from './tools/instance.js';
import { messageTools } from './tools/messages.js';

export { LAST_EVENT_META } from './resources.js';
export type { McpServerContext } from './tool-kit.js';

/** A built server plus what the HTTP layer needs to audit calls the SDK refuses before our handlers run. */
export interface BuiltMcpServer {
  server: McpServer;
  /** Names of tools this instance lists (allowed by policy and supported by its provider). */
  tools: string[];
  /** Audits tools/call messages that will be refused before a handler runs (unknown tool, bad arguments). */
  auditRefused(body: unknown): Promise<void>;
}

/** Builds the server for one request. Cheap: tools are closures over the caller's principal and instance. */
export function createMcpServer(ctx: McpServerContext): BuiltMcpServer {
  const { services, principal: p, instance: inst, policy } = ctx;
  const factory: ProviderFactory = services.instances.provider(inst.provider);
  const secretNames = new Set(factory.secretSettings ?? []);
  const secrets = [
    ...Object.entries(inst.settings)
      .filter(([k, v]) => secretNames.has(k) && typeof v === 'string')
      .map(([, v]) => v as string),
    ...(services.config.adminApiKey ? [services.config.adminApiKey] : []),
  ];
  const base: Omit<ToolScope, 'send'> = {
    ...ctx,
    factory,
    secrets,
    chatIdOf: chatIdOf(factory),
    wroteFirst: wroteFirst(services.store, inst),
  };
  const scope: ToolScope = { ...base, send: (tool, req) => guardedSend(base, tool, req) };
  // Listed in MCP_TOOLS order, whatever the group.
  const order = (d: ToolDef) => (MCP_TOOLS as readonly string[]).indexOf(d.name);
  const defs = [
    ...instanceTools(scope),
    ...messageTools(scope),
    ...chatTools(scope),
    ...groupTools(scope),
  ].sort((x, y) => order(x) - order(y));

  const server = new McpServer(
    { name: 'switchboard', title: 'Switchboard messaging gateway', version: '0.1.0' },
    {
      instructions:
        `Tools of the messenger instance ${inst.id} (${inst.provider}${inst.account ? `, ${inst.account}` : ''}). ` +
        UNTRUSTED_NOTICE +
        ' Sends are checked against the instance policy and may wait for human approval.',
    },
  );

  const auditor = createAuditor(services, p, inst, secrets);
  const available = defs.filter((d) => !d.needs || factory.capabilities.has(d.needs));
  const listed: string[] = [];
  const schemas = new Map<string, z.ZodObject>();
  for (const d of available) {
    const registered = server.registerTool(
      d.name,
      {
        title: d.title,
        description: d.description,
        inputSchema: d.input,
        outputSchema: d.output,
        annotations: {
          title: d.title,
          readOnlyHint: d.readOnly,
          destructiveHint: false,
          openWorldHint: !d.readOnly,
        },
      },
      ((args: unknown) => auditor.call(d, args)) as any,
    );
    schemas.set(d.name, z.object(d.input));
    // A scoped company key without `send` sees no sending tools (the core would refuse the send anyway).
    const allowed = policy.allowedTools.has(d.name) && (!SENDING_TOOLS.has(d.name) || hasScope(p, 'send'));
    if (allowed) listed.push(d.name);
    else registered.disable();
  }

  registerResources(server, ctx, listed);

  return { server, tools: listed, auditRefused: (body) => auditor.refused(body, schemas, listed) };
}
