// MCP safety policy: parsed from an instance's `mcp_schema` (allowed tools, recipients, approval), fail-closed.
import { z } from 'zod';
import { normalizeRecipient } from '../core/addressing.js';
import { SbError } from '../domain/errors.js';

/** Every tool the MCP server knows; which are listed also depends on the provider's capabilities. */
export const MCP_TOOLS = [
  'get_status',
  'get_qr',
  'send_message',
  'send_media',
  'get_chats',
  'get_messages',
  'search_contacts',
  'get_contact',
  'mark_read',
  'download_media',
  'search_groups',
  'get_group',
  'send_group_message',
  'create_group',
] as const;
export type McpToolName = (typeof MCP_TOOLS)[number];

/** Tools that send a message on the messenger (subject to recipients, approval and the rate limiter). */
export const SENDING_TOOLS: ReadonlySet<McpToolName> = new Set([
  'send_message',
  'send_media',
  'send_group_message',
  'create_group',
]);

const recipientEntry = z.string().trim().min(1).max(128);

/** The accepted shape of `mcp_schema`. Unknown keys are refused so that a typo never weakens the policy. */
export const mcpSchemaSchema = z
  .object({
    allowed_tools: z
      .array(z.enum(MCP_TOOLS))
      .max(MCP_TOOLS.length)
      .optional()
      .describe('Tools the agent may see and call (default: all).'),
    allowed_recipients: z
      .array(recipientEntry)
      .max(1000)
      .optional()
      .describe('Numbers, chat ids or * patterns the agent may send to (default: no list).'),
    only_chats_that_wrote_first: z
      .boolean()
      .optional()
      .describe('Sends only to chats that have sent this instance a message (default true).'),
    require_approval: z
      .boolean()
      .optional()
      .describe('Every send waits for a person to approve it (default false).'),
  })
  .strict();

/** The effective policy of one instance. */
export interface McpPolicy {
  allowedTools: ReadonlySet<McpToolName>;
  /** null: no allowlist. */
  allowedRecipients: readonly string[] | null;
  onlyChatsThatWroteFirst: boolean;
  requireApproval: boolean;
}

/** Parses `mcp_schema`; an invalid one is refused (409) rather than read loosely. */
export function parseMcpPolicy(mcpSchema: Record<string, unknown>): McpPolicy {
  const parsed = mcpSchemaSchema.safeParse(mcpSchema ?? {});
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new SbError(
      'SB_ERR_INVALID_STATE',
      `the instance's mcp_schema is invalid: ${details.map((d) => `${d.path || 'mcp_schema'}: ${d.message}`).join('; ')}`,
      { details },
    );
  }
  const s = parsed.data;
  return {
    allowedTools: new Set(s.allowed_tools ?? MCP_TOOLS),
    allowedRecipients: s.allowed_recipients ?? null,
    onlyChatsThatWroteFirst: s.only_chats_that_wrote_first ?? true,
    requireApproval: s.require_approval ?? false,
  };
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*');
  return new RegExp(`^${escaped}$`, 'i');
}

/**
 * True when the allowlist admits the chat. Entries are phone numbers (any notation), chat ids/JIDs, or patterns with
 * `*` matched against both the chat id and, for WhatsApp users, the phone in E.164 (`+49*`).
 */
export function recipientAllowed(
  allow: readonly string[],
  chatId: string,
  addressing: 'phone' | 'chat_id',
): boolean {
  const m = /^(\d{6,16})(?::\d+)?@s\.whatsapp\.net$/.exec(chatId);
  const forms = m ? [chatId, `+${m[1]}`, m[1]!] : [chatId];
  for (const entry of allow) {
    if (entry.includes('*')) {
      const re = globToRegExp(entry);
      if (forms.some((f) => re.test(f))) return true;
      continue;
    }
    let normalized: string;
    try {
      normalized = normalizeRecipient(entry, addressing);
    } catch {
      normalized = entry;
    }
    if (normalized === chatId) return true;
  }
  return false;
}
