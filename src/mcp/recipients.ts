// The recipient policy of an MCP instance: chat ids from agent input, allowed_recipients, "only chats that wrote first".
import { normalizeRecipient } from '../core/addressing.js';
import type { Instance } from '../domain/model.js';
import type { ProviderFactory } from '../ports/provider.js';
import type { Store } from '../ports/store.js';
import { type McpPolicy, recipientAllowed } from './policy.js';
import { forbidden, invalid } from './tool-kit.js';

/** A chat id from a phone number or chat id; a loose id (no spaces, ≤ 128 chars) passes trimmed, else a 400. */
export const chatIdOf =
  (factory: ProviderFactory) =>
  (raw: string, field: string): string => {
    try {
      return normalizeRecipient(raw, factory.addressing, field);
    } catch {
      if (/^[^\s]{1,128}$/.test(raw)) return raw.trim();
      throw invalid(field, 'not a chat id');
    }
  };

/** True when the chat has sent this instance at least one message. */
export const wroteFirst =
  (store: Store, inst: Instance) =>
  (chatId: string): Promise<boolean> =>
    store.mcp.chatWroteFirst(inst.id, chatId);

/**
 * Refuses (SB_ERR_FORBIDDEN) a recipient the policy does not allow. `role` names it in the message:
 * a `recipient` of a send, a `participant` of a new group.
 */
export async function checkRecipient(
  chatId: string,
  role: 'recipient' | 'participant',
  policy: McpPolicy,
  factory: ProviderFactory,
  hasWrittenFirst: (chatId: string) => Promise<boolean>,
): Promise<void> {
  if (policy.allowedRecipients && !recipientAllowed(policy.allowedRecipients, chatId, factory.addressing)) {
    throw forbidden(`${role} ${chatId} is not in this instance's allowed_recipients`);
  }
  if (policy.onlyChatsThatWroteFirst && !(await hasWrittenFirst(chatId))) {
    throw forbidden(
      role === 'recipient'
        ? `chat ${chatId} has not written to this instance first; only chats that wrote first can be messaged`
        : `participant ${chatId} has not written to this instance first`,
    );
  }
}
