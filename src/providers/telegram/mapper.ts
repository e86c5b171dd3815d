// Maps Telegram Bot API updates (grammY types) to the provider-neutral message model; grammY types stay here.
import type { Chat, Message, Update, User } from 'grammy/types';
import type { ProviderMessage } from '../../ports/provider.js';

/** Our message id for a Telegram message: Telegram ids are only unique within one chat. */
export function telegramMessageId(chatId: number | string, messageId: number): string {
  return `${chatId}:${messageId}`;
}

/** The numeric Telegram message id inside our id (`<chat>:<id>` or a bare number), or null. */
export function parseTelegramMessageId(id: string): number | null {
  const m = /^(?:-?\d+:)?(\d{1,15})$/.exec(id.trim());
  return m ? Number(m[1]) : null;
}

/** A Bot API date (Unix seconds) as ISO; tolerates emulators that send milliseconds, and a missing date. */
export function toIso(date: number | undefined): string {
  if (!date) return new Date().toISOString();
  return new Date(date > 1e11 ? date : date * 1000).toISOString();
}

function userName(u: User | undefined): string | null {
  if (!u) return null;
  const full = [u.first_name, u.last_name].filter(Boolean).join(' ').trim();
  return full || (u.username ? `@${u.username}` : null);
}

function chatName(c: Chat): string | null {
  if ('title' in c && c.title) return c.title;
  if ('first_name' in c && c.first_name)
    return [c.first_name, 'last_name' in c ? c.last_name : null].filter(Boolean).join(' ');
  return 'username' in c && c.username ? `@${c.username}` : null;
}

const MEDIA_KINDS = [
  'photo',
  'document',
  'video',
  'audio',
  'voice',
  'video_note',
  'animation',
  'sticker',
] as const;

/** The content kind of a message and its media metadata (bytes are never downloaded here). */
export function contentOf(m: Message): {
  type: string;
  body: string | null;
  media: Record<string, unknown> | null;
} {
  const caption = m.caption ?? null;
  for (const kind of MEDIA_KINDS) {
    const v = (m as unknown as Record<string, unknown>)[kind];
    if (!v) continue;
    // Photos come as an array of sizes: keep the largest.
    const file = (Array.isArray(v) ? v[v.length - 1] : v) as Record<string, unknown>;
    const media: Record<string, unknown> = {
      kind,
      file_id: file.file_id ?? null,
      file_unique_id: file.file_unique_id ?? null,
      mimetype: file.mime_type ?? (kind === 'photo' ? 'image/jpeg' : null),
      filename: file.file_name ?? null,
      size: file.file_size ?? null,
    };
    if (file.width !== undefined) media.width = file.width;
    if (file.height !== undefined) media.height = file.height;
    if (file.duration !== undefined) media.duration = file.duration;
    if (caption) media.caption = caption;
    const type = kind === 'sticker' && typeof file.emoji === 'string' ? 'sticker' : kind;
    return { type, body: caption ?? (typeof file.emoji === 'string' ? file.emoji : null), media };
  }
  if (m.text !== undefined) {
    const isCommand = (m.entities ?? []).some((e) => e.type === 'bot_command' && e.offset === 0);
    return { type: isCommand ? 'command' : 'text', body: m.text, media: null };
  }
  if (m.location) {
    return {
      type: 'location',
      body: `${m.location.latitude},${m.location.longitude}`,
      media: { kind: 'location', latitude: m.location.latitude, longitude: m.location.longitude },
    };
  }
  if (m.contact) {
    return {
      type: 'contact',
      body: [m.contact.first_name, m.contact.last_name].filter(Boolean).join(' '),
      media: { kind: 'contact', phone_number: m.contact.phone_number, user_id: m.contact.user_id ?? null },
    };
  }
  if (m.poll) return { type: 'poll', body: m.poll.question, media: null };
  return { type: 'service', body: null, media: null };
}

/**
 * Turns one update into a message, or null for updates we do not store (callback queries, member changes…).
 * Edits get their own id (`<chat>:<id>:e<edit_date>`), type `edited` and `reply_to` = the edited message.
 * `botId` marks the bot's own channel posts as `is_from_me`.
 */
export function mapUpdate(u: Update, botId: number | null, account: string | null): ProviderMessage | null {
  const edited = u.edited_message ?? u.edited_channel_post;
  const m = u.message ?? u.channel_post ?? edited;
  if (!m) return null;
  const chat = m.chat;
  const chatId = String(chat.id);
  const isGroup = chat.type === 'group' || chat.type === 'supergroup';
  const isChannel = chat.type === 'channel';
  const sender = m.from;
  const fromId = sender ? String(sender.id) : m.sender_chat ? String(m.sender_chat.id) : chatId;
  const baseId = telegramMessageId(chat.id, m.message_id);
  const content = contentOf(m);
  const when = edited ? (m.edit_date ?? m.date) : m.date;
  const replyTo = m.reply_to_message ? telegramMessageId(chat.id, m.reply_to_message.message_id) : null;
  return {
    message_id: edited ? `${baseId}:e${when}` : baseId,
    chat_id: chatId,
    from: fromId,
    to: account,
    body: content.body,
    type: edited ? 'edited' : isChannel && content.type === 'text' ? 'channel_post' : content.type,
    is_from_me: botId !== null && sender?.id === botId,
    is_group: isGroup,
    group_id: isGroup ? chatId : null,
    contact_name: sender ? userName(sender) : chatName(m.sender_chat ?? chat),
    contact_phone: null,
    reply_to: edited ? baseId : replyTo,
    media: edited ? { ...(content.media ?? {}), edited_type: content.type } : content.media,
    timestamp: toIso(when),
  };
}
