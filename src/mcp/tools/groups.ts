// Group tools: search and read groups, send to a group, create one (participants pass the recipient policy).
import { z } from 'zod';
import { normalizeRecipient } from '../../core/addressing.js';
import { checkRecipient } from '../recipients.js';
import { UNTRUSTED_NOTICE } from '../sanitize.js';
import {
  chatIdArg,
  forbidden,
  invalid,
  limitArg,
  MAX_TEXT,
  type ToolDef,
  type ToolScope,
  text,
} from '../tool-kit.js';
import { chatOut, chatsText, chatView, notice, sentOut } from '../views.js';

/** The groups tools of one request. */
export function groupTools(s: ToolScope): ToolDef[] {
  const { services, instance: inst, policy, factory } = s;
  return [
    {
      name: 'search_groups',
      title: 'Search groups',
      description: 'Group chats whose name or id contains the query (all groups without a query).',
      input: { query: z.string().trim().min(1).max(100).optional(), limit: limitArg(20) },
      output: { groups: z.array(chatOut), notice },
      readOnly: true,
      needs: 'groups',
      async run(a: { query?: string; limit: number }) {
        const groups = await services.store.mcp.searchGroups(inst.id, { query: a.query, limit: a.limit });
        return {
          result: text({ groups: groups.map(chatView), notice: UNTRUSTED_NOTICE }, chatsText(groups)),
        };
      },
    },
    {
      name: 'get_group',
      title: 'Get a group',
      description: 'One group chat by id.',
      input: { group_id: chatIdArg },
      output: { found: z.boolean(), group: chatOut.nullable(), notice },
      readOnly: true,
      needs: 'groups',
      async run(a: { group_id: string }) {
        const chat = await services.store.chats.get(inst.id, s.chatIdOf(a.group_id, 'group_id'));
        const group = chat?.is_group ? chatView(chat) : null;
        return { result: text({ found: group !== null, group, notice: UNTRUSTED_NOTICE }) };
      },
    },
    {
      name: 'send_group_message',
      title: 'Send a message to a group',
      description: 'Sends a text message to a group chat. Same policy as send_message.',
      input: {
        group_id: chatIdArg,
        text: z.string().min(1).max(MAX_TEXT),
        reply_to: z.string().trim().min(1).max(128).optional(),
      },
      output: sentOut,
      readOnly: false,
      needs: 'groups',
      async run(a: { group_id: string; text: string; reply_to?: string }) {
        const chat = await services.store.chats.get(inst.id, s.chatIdOf(a.group_id, 'group_id'));
        if (!chat?.is_group) throw invalid('group_id', 'not a known group of this instance');
        return s.send('send_group_message', {
          to: chat.chat_id,
          text: a.text,
          reply_to: a.reply_to ?? null,
        });
      },
    },
    {
      name: 'create_group',
      title: 'Create a group',
      description:
        'Creates a group chat with a subject and participants. Every participant must pass the same recipient ' +
        'policy as send_message; not available while sends need human approval.',
      input: {
        subject: z.string().trim().min(1).max(100),
        participants: z.array(z.string().trim().min(1).max(128)).min(1).max(50),
      },
      output: { group_id: z.string(), subject: z.string(), participants: z.array(z.string()) },
      readOnly: false,
      needs: 'groups',
      async run(a: { subject: string; participants: string[] }) {
        if (policy.requireApproval) {
          throw forbidden('create_group is not available while this instance requires approval of sends');
        }
        const participants: string[] = [];
        for (const raw of a.participants) {
          const chatId = normalizeRecipient(raw, factory.addressing, 'participants');
          await checkRecipient(chatId, 'participant', policy, factory, s.wroteFirst);
          participants.push(chatId);
        }
        const created = await services.supervisor.control(inst.id, 'create_group', {
          subject: a.subject,
          participants,
        });
        const groupId = String(created.group_id);
        await services.store.chats.touch({
          instance_id: inst.id,
          chat_id: groupId,
          name: a.subject,
          is_group: true,
          at: new Date().toISOString(),
          preview: null,
          unread_delta: 0,
        });
        return { result: text({ group_id: groupId, subject: a.subject, participants }) };
      },
    },
  ];
}
