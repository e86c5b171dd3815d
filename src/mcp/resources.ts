// MCP resources of an instance: its chats and each chat's latest messages, stamped with the latest event id.
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { UNTRUSTED_NOTICE } from './sanitize.js';
import type { McpServerContext } from './tool-kit.js';
import { chatView, messageView } from './views.js';

/** `_meta` key of resource reads: the instance's latest event id at read time. */
export const LAST_EVENT_META = 'switchboard/last_event_id';

/** Chats and per-chat messages as resources (only when the matching read tools are allowed). */
export function registerResources(server: McpServer, ctx: McpServerContext, listed: readonly string[]): void {
  const { services, principal: p, instance: inst } = ctx;
  const base = `switchboard://instances/${inst.id}`;
  // The instance's latest event id when the resource was read: a subscriber streams events after it (no gap).
  const eventMark = async () => ({ [LAST_EVENT_META]: await services.store.mcp.latestEventId(inst.id) });
  if (listed.includes('get_chats')) {
    server.registerResource(
      'chats',
      `${base}/chats`,
      {
        title: 'Chats',
        description: 'Chats of this instance, most recent first.',
        mimeType: 'application/json',
      },
      async (uri) => {
        const page = await services.messaging.listChats(p, inst.id, { limit: 100 });
        const body = { notice: UNTRUSTED_NOTICE, chats: page.items.map(chatView) };
        return {
          contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(body) }],
          _meta: await eventMark(),
        };
      },
    );
  }
  if (listed.includes('get_messages')) {
    server.registerResource(
      'chat-messages',
      new ResourceTemplate(`${base}/chats/{chat_id}/messages`, {
        list: async () => {
          const page = await services.messaging.listChats(p, inst.id, { limit: 100 });
          return {
            resources: page.items.map((c) => ({
              uri: `${base}/chats/${encodeURIComponent(c.chat_id)}/messages`,
              name: `messages of ${c.chat_id}`,
              mimeType: 'application/json',
            })),
          };
        },
      }),
      {
        title: 'Messages of a chat',
        description: 'The latest 50 messages of one chat (third-party bodies are untrusted).',
        mimeType: 'application/json',
      },
      async (uri, vars) => {
        const raw = Array.isArray(vars.chat_id) ? vars.chat_id[0] : vars.chat_id;
        const chatId = decodeURIComponent(String(raw ?? ''));
        const page = await services.messaging.listMessages(p, inst.id, { chat_id: chatId, limit: 50 });
        const body = { notice: UNTRUSTED_NOTICE, chat_id: chatId, messages: page.items.map(messageView) };
        return {
          contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(body) }],
          _meta: await eventMark(),
        };
      },
    );
  }
}
