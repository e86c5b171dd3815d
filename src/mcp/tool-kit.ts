// What every MCP tool group shares: the tool definition shape, the per-request scope and small result helpers.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { SbError } from '../domain/errors.js';
import type { Instance, Principal } from '../domain/model.js';
import type { ApprovalRequest, AuditOutcome } from '../ports/mcp.js';
import type { ProviderFactory } from '../ports/provider.js';
import type { McpPolicy, McpToolName } from './policy.js';
import type { McpServices } from './services.js';
import type { Resolver } from './url-guard.js';

/** Longest message text a tool accepts (characters), as the HTTP API. */
export const MAX_TEXT = 4096;

/** Who asks, about which instance, under which policy: the input of createMcpServer. */
export interface McpServerContext {
  /** The services the tools call (see McpServices). */
  services: McpServices;
  principal: Principal;
  instance: Instance;
  policy: McpPolicy;
  /** DNS resolver for media URL checks (tests replace it). */
  resolve?: Resolver;
}

/** A tool's result plus what the audit records about it. */
export type Outcome = { result: CallToolResult; outcome?: AuditOutcome; approvalId?: string };

/** One tool: its MCP description and the handler (arguments are already validated against `input`). */
export interface ToolDef {
  name: McpToolName;
  title: string;
  description: string;
  input: z.ZodRawShape;
  output?: z.ZodRawShape;
  readOnly: boolean;
  /** Which provider capability the tool needs, if any. */
  needs?: 'media' | 'groups';
  /** Arguments are typed by each tool; the SDK validated them against `input`. */
  run(args: any): Promise<Outcome>;
}

/** What the tools of one request close over: the context, the provider factory and the guarded helpers. */
export interface ToolScope extends McpServerContext {
  factory: ProviderFactory;
  /** Strings never echoed back to the agent (instance secrets, the admin key). */
  secrets: string[];
  /** A chat id from a phone number or id; a loose id passes as-is, anything else is a validation error. */
  chatIdOf(raw: string, field: string): string;
  /** True when the chat has written to this instance at least once. */
  wroteFirst(chatId: string): Promise<boolean>;
  /** Every send: recipient policy, media URL check, approval, then the core send. */
  send(tool: McpToolName, req: ApprovalRequest): Promise<Outcome>;
}

/** A text result with the same object as structured content. */
export const text = (structured: Record<string, unknown>, body?: string): CallToolResult => ({
  content: [{ type: 'text', text: body ?? JSON.stringify(structured, null, 2) }],
  structuredContent: structured,
});

export const forbidden = (message: string) => new SbError('SB_ERR_FORBIDDEN', message);
export const invalid = (path: string, message: string) =>
  new SbError('SB_ERR_VALIDATION', `${path}: ${message}`, { details: [{ path, message }] });

/** A page size argument, 1–100. */
export const limitArg = (def: number) => z.number().int().min(1).max(100).default(def);
export const chatIdArg = z.string().trim().min(1).max(128);
