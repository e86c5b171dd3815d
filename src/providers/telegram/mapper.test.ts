// Telegram update → message mapping: commands, media, channel posts, edits, replies, ids.
import type { Update } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { mapUpdate, parseTelegramMessageId, toIso } from './mapper.js';

const u = (x: Record<string, unknown>) => ({ update_id: 1, ...x }) as unknown as Update;
const chat = { id: 42, type: 'private', first_name: 'Ana' };
const from = { id: 42, is_bot: false, first_name: 'Ana', last_name: 'Lima' };

describe('telegram mapper', () => {
  it('maps a private text with a reply', () => {
    const m = mapUpdate(
      u({
        message: {
          message_id: 7,
          date: 1_700_000_000,
          chat,
          from,
          text: 'hi',
          reply_to_message: { message_id: 3, chat, date: 1 },
        },
      }),
      99,
      '@bot',
    )!;
    expect(m).toMatchObject({
      message_id: '42:7',
      chat_id: '42',
      from: '42',
      to: '@bot',
      body: 'hi',
      type: 'text',
      is_from_me: false,
      is_group: false,
      group_id: null,
      contact_name: 'Ana Lima',
      reply_to: '42:3',
      media: null,
      timestamp: '2023-11-14T22:13:20.000Z',
    });
  });

  it('keeps the largest photo size and the caption as body', () => {
    const m = mapUpdate(
      u({
        message: {
          message_id: 8,
          date: 1_700_000_000,
          chat,
          from,
          caption: 'pic',
          photo: [
            { file_id: 'small', file_unique_id: 's', width: 90, height: 90 },
            { file_id: 'big', file_unique_id: 'b', width: 1280, height: 1280, file_size: 1234 },
          ],
        },
      }),
      99,
      null,
    )!;
    expect(m.type).toBe('photo');
    expect(m.body).toBe('pic');
    expect(m.media).toMatchObject({
      kind: 'photo',
      file_id: 'big',
      mimetype: 'image/jpeg',
      size: 1234,
      width: 1280,
    });
  });

  it('maps documents, voice and stickers with their metadata', () => {
    const doc = mapUpdate(
      u({
        message: {
          message_id: 9,
          date: 1,
          chat,
          from,
          document: { file_id: 'd', file_unique_id: 'd', file_name: 'a.pdf', mime_type: 'application/pdf' },
        },
      }),
      null,
      null,
    )!;
    expect(doc).toMatchObject({
      type: 'document',
      body: null,
      media: { filename: 'a.pdf', mimetype: 'application/pdf' },
    });
    const voice = mapUpdate(
      u({
        message: {
          message_id: 10,
          date: 1,
          chat,
          from,
          voice: { file_id: 'v', file_unique_id: 'v', duration: 3, mime_type: 'audio/ogg' },
        },
      }),
      null,
      null,
    )!;
    expect(voice).toMatchObject({ type: 'voice', media: { duration: 3 } });
    const sticker = mapUpdate(
      u({
        message: {
          message_id: 11,
          date: 1,
          chat,
          from,
          sticker: { file_id: 's', file_unique_id: 's', emoji: '👍', width: 1, height: 1 },
        },
      }),
      null,
      null,
    )!;
    expect(sticker).toMatchObject({ type: 'sticker', body: '👍' });
  });

  it('maps channel posts and group messages', () => {
    const post = mapUpdate(
      u({
        channel_post: {
          message_id: 1,
          date: 1,
          chat: { id: -1001, type: 'channel', title: 'News' },
          sender_chat: { id: -1001, type: 'channel', title: 'News' },
          text: 'breaking',
        },
      }),
      null,
      null,
    )!;
    expect(post).toMatchObject({
      type: 'channel_post',
      chat_id: '-1001',
      from: '-1001',
      contact_name: 'News',
      is_group: false,
    });
    const group = mapUpdate(
      u({
        message: { message_id: 2, date: 1, chat: { id: -5, type: 'group', title: 'G' }, from, text: 'yo' },
      }),
      null,
      null,
    )!;
    expect(group).toMatchObject({ is_group: true, group_id: '-5', from: '42', chat_id: '-5' });
  });

  it('marks the bot’s own messages and ignores updates without a message', () => {
    const own = mapUpdate(
      u({
        message: { message_id: 3, date: 1, chat, from: { id: 99, is_bot: true, first_name: 'B' }, text: 'x' },
      }),
      99,
      null,
    )!;
    expect(own.is_from_me).toBe(true);
    expect(mapUpdate(u({ callback_query: { id: 'q', from, chat_instance: 'c' } }), 99, null)).toBeNull();
  });

  it('parses our ids and bare ids, and tolerates millisecond dates', () => {
    expect(parseTelegramMessageId('-100:55')).toBe(55);
    expect(parseTelegramMessageId('55')).toBe(55);
    expect(parseTelegramMessageId('abc')).toBeNull();
    expect(toIso(1_700_000_000)).toBe(toIso(1_700_000_000_000));
  });
});
