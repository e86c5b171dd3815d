// Messages, chats and contacts of an instance; sending with an optional Idempotency-Key.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principal } from '../auth.js';
import {
  cursorQuery,
  dateTimeInput,
  errorBody,
  limitQuery,
  messageView,
  stdErrors,
  uuidParam,
} from '../schemas.js';
import type { HttpServices } from '../services.js';

export const MAX_TEXT = 4096;

const chatIdField = z.string().trim().min(1).max(128);

/** Characters of base64 for `bytes` of data (padded). */
export const base64Length = (bytes: number): number => 4 * Math.ceil(bytes / 3);

/** Bytes that a base64 string decodes to (padding counted off; no whitespace expected). */
const decodedLength = (b64: string): number =>
  Math.floor((b64.length * 3) / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);

/**
 * Body limit of the send route (bytes): the base64 of `mediaMaxBytes` (MEDIA_MAX_BYTES, default 16 MiB) plus 256 KiB
 * for the JSON around it (caption, names), so a documented 16 MB file fits and nothing much larger does.
 */
export const sendBodyLimit = (mediaMaxBytes: number): number => base64Length(mediaMaxBytes) + 256 * 1024;

const mediaSchema = (mediaMaxBytes: number) =>
  z
    .object({
      url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
      base64: z
        .string()
        .min(1)
        .max(base64Length(mediaMaxBytes) + 4)
        .refine((b) => decodedLength(b) <= mediaMaxBytes, {
          message: `larger than MEDIA_MAX_BYTES (${mediaMaxBytes} bytes decoded)`,
        })
        .optional()
        .describe(`The file, base64-encoded; at most MEDIA_MAX_BYTES decoded (${mediaMaxBytes} bytes here).`),
      mimetype: z.string().trim().min(3).max(100).optional(),
      filename: z.string().trim().min(1).max(255).optional(),
      caption: z.string().max(MAX_TEXT).optional(),
    })
    .strict()
    .refine((m) => (m.url === undefined) !== (m.base64 === undefined), {
      message: 'give exactly one of url or base64',
    });

const sendBody = (mediaMaxBytes: number) =>
  z
    .object({
      to: chatIdField.describe('Phone number (E.164 or digits), WhatsApp JID, or Telegram chat id.'),
      text: z.string().min(1).max(MAX_TEXT).optional(),
      reply_to: z.string().trim().min(1).max(128).optional(),
      media: mediaSchema(mediaMaxBytes).optional(),
      reaction: z
        .object({ message_id: z.string().trim().min(1).max(128), emoji: z.string().max(16) })
        .strict()
        .optional(),
    })
    .strict()
    .refine((b) => b.text !== undefined || b.media !== undefined || b.reaction !== undefined, {
      message: 'text is required (or media, or reaction)',
      path: ['text'],
    });

const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional(),
});

const chatView = z
  .object({
    instance_id: z.string(),
    chat_id: z.string(),
    name: z.string().nullable(),
    is_group: z.boolean(),
    last_message_at: z.string().nullable(),
    last_message_preview: z
      .string()
      .nullable()
      .describe(
        "The latest message's body cut to its first 120 characters (Unicode code points: an emoji counts once and is never cut in half), or `[type]` when it has no text; the same rule for received and sent messages.",
      ),
    unread_count: z.number(),
    phone: z.string().nullable().optional().describe('Phone (E.164) of a 1:1 WhatsApp chat when known.'),
  })
  .meta({ id: 'Chat' });

const contactView = z
  .object({
    instance_id: z.string(),
    contact_id: z.string(),
    name: z.string().nullable(),
    phone: z.string().nullable(),
    updated_at: z.string(),
  })
  .meta({ id: 'Contact' });

/** `before`: the shared strict date-time (ISO 8601 or Unix time, years 0001–9999), passed on as an ISO string. */
const beforeQuery = dateTimeInput.transform((d) => d.toISOString());

export const messageRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'config' | 'messaging'>> = async (
  app,
  { config, messaging },
) => {
  const tags = ['messages'];

  const mediaMax = config.http.mediaMaxBytes;
  app.post(
    '/api/v1/instances/:id/messages',
    {
      // Media travels inline as base64: this route takes the documented file size, the others BODY_LIMIT_BYTES.
      bodyLimit: sendBodyLimit(mediaMax),
      config: { bodyLimitSetting: 'MEDIA_MAX_BYTES' },
      schema: {
        tags,
        summary: 'Send a message (text, reply; media and reactions where the provider supports them)',
        params: uuidParam,
        headers: idempotencyHeader,
        body: sendBody(mediaMax),
        response: {
          201: z.object({ message: messageView, replayed: z.boolean() }),
          200: z.object({ message: messageView, replayed: z.boolean() }),
          409: errorBody,
          413: errorBody,
          422: errorBody,
          429: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req, reply) => {
      const { message, replayed } = await messaging.send(
        principal(req),
        req.params.id,
        req.body,
        req.headers['idempotency-key'],
      );
      reply.status(replayed ? 200 : 201);
      if (replayed) reply.header('idempotent-replayed', 'true');
      return { message, replayed };
    },
  );

  app.get(
    '/api/v1/instances/:id/messages',
    {
      schema: {
        tags,
        summary: 'Stored messages, newest first',
        params: uuidParam,
        querystring: z
          .object({
            chat_id: chatIdField.optional(),
            before: beforeQuery.optional(),
            limit: limitQuery,
            cursor: cursorQuery,
          })
          .strict(),
        response: {
          200: z.object({ messages: z.array(messageView), next_cursor: z.string().nullable() }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const page = await messaging.listMessages(principal(req), req.params.id, req.query);
      return { messages: page.items, next_cursor: page.next_cursor };
    },
  );

  app.get(
    '/api/v1/instances/:id/messages/:messageId',
    {
      schema: {
        tags,
        summary: 'One stored message by our id or the provider message id',
        params: uuidParam.extend({ messageId: z.string().trim().min(1).max(128) }),
        response: { 200: z.object({ message: messageView }), ...stdErrors },
      },
    },
    async (req) => {
      const message = await messaging.getMessage(principal(req), req.params.id, req.params.messageId);
      return { message };
    },
  );

  app.get(
    '/api/v1/instances/:id/chats',
    {
      schema: {
        tags,
        summary: 'Chats, most recent first',
        params: uuidParam,
        querystring: z.object({ limit: limitQuery, cursor: cursorQuery }).strict(),
        response: {
          200: z.object({ chats: z.array(chatView), next_cursor: z.string().nullable() }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const page = await messaging.listChats(principal(req), req.params.id, req.query);
      return { chats: page.items, next_cursor: page.next_cursor };
    },
  );

  app.get(
    '/api/v1/instances/:id/contacts',
    {
      schema: {
        tags,
        summary: 'Contacts, optionally searched by name, id or phone',
        params: uuidParam,
        querystring: z
          .object({
            query: z.string().trim().min(1).max(100).optional(),
            limit: limitQuery,
            cursor: cursorQuery,
          })
          .strict(),
        response: {
          200: z.object({ contacts: z.array(contactView), next_cursor: z.string().nullable() }),
          ...stdErrors,
        },
      },
    },
    async (req) => {
      const page = await messaging.listContacts(principal(req), req.params.id, req.query);
      return { contacts: page.items, next_cursor: page.next_cursor };
    },
  );
};
