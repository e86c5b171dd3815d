// The MCP views: each shows exactly its schema's fields of the domain object, and its output passes that schema.
import { describe, expect, it } from 'vitest';
import type { Chat, Contact, Message } from '../domain/model.js';
import {
  chatOut,
  chatView,
  contactOut,
  contactView,
  messageOut,
  messageView,
  sentMessageOut,
  sentMessageView,
} from './views.js';

const message = (over: Partial<Message> = {}): Message => ({
  id: '0b7c1f0e-4a59-4d38-9a55-3f1c6c2b9a10',
  instance_id: 'i1',
  company_id: 'c1',
  message_id: 'WA1',
  chat_id: '4915100000001@s.whatsapp.net',
  from: '4915100000001@s.whatsapp.net',
  to: null,
  body: 'hi',
  type: 'text',
  is_from_me: false,
  is_group: false,
  group_id: null,
  contact_name: 'Alice',
  reply_to: null,
  media: null,
  mentions: ['4915100000002@s.whatsapp.net'],
  status: 'received',
  timestamp: '2026-01-01T00:00:00.000Z',
  created_at: '2026-01-01T00:00:01.000Z',
  sender_phone: '+4915100000001',
  ...over,
});

describe('MCP views', () => {
  it('shows a chat without its instance or phone, and the result passes the output schema strictly', () => {
    const chat: Chat = {
      instance_id: 'i1',
      chat_id: '4915100000001@s.whatsapp.net',
      name: null,
      is_group: false,
      last_message_at: '2026-01-01T00:00:00.000Z',
      last_message_preview: 'hi',
      unread_count: 2,
      phone: '+4915100000001',
    };
    const v = chatView(chat);
    expect(v).toEqual({
      chat_id: chat.chat_id,
      name: null,
      is_group: false,
      last_message_at: chat.last_message_at,
      last_message_preview: 'hi',
      unread_count: 2,
    });
    expect(chatOut.strict().parse(v)).toEqual(v);
  });

  it('shows a message with whose text it is and whether it has media, nothing internal', () => {
    const theirs = messageView(message());
    expect(theirs).toEqual({
      id: '0b7c1f0e-4a59-4d38-9a55-3f1c6c2b9a10',
      message_id: 'WA1',
      chat_id: '4915100000001@s.whatsapp.net',
      from: '4915100000001@s.whatsapp.net',
      is_from_me: false,
      type: 'text',
      body: 'hi',
      trust: 'untrusted_third_party',
      contact_name: 'Alice',
      reply_to: null,
      mentions: ['4915100000002@s.whatsapp.net'],
      has_media: false,
      status: 'received',
      timestamp: '2026-01-01T00:00:00.000Z',
    });
    expect(messageOut.strict().parse(theirs)).toEqual(theirs);
    const own = messageView(message({ is_from_me: true, media: { mimetype: 'image/png' }, status: 'read' }));
    expect(own).toMatchObject({ trust: 'own', has_media: true, status: 'read' });
    expect(messageOut.strict().parse(own)).toEqual(own);
  });

  it('shows a contact and the message a send returns', () => {
    const contact: Contact = {
      instance_id: 'i1',
      contact_id: 'x@s.whatsapp.net',
      name: 'X',
      phone: null,
      updated_at: '2026-01-01T00:00:00.000Z',
    };
    expect(contactOut.strict().parse(contactView(contact))).toEqual({
      contact_id: 'x@s.whatsapp.net',
      name: 'X',
      phone: null,
    });
    const sent = sentMessageView(message({ is_from_me: true, status: 'pending', message_id: null }));
    expect(sentMessageOut.strict().parse(sent)).toEqual({
      id: '0b7c1f0e-4a59-4d38-9a55-3f1c6c2b9a10',
      message_id: null,
      chat_id: '4915100000001@s.whatsapp.net',
      status: 'pending',
      timestamp: '2026-01-01T00:00:00.000Z',
    });
  });
});
