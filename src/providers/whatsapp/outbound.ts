// Outbound building for WhatsApp: Baileys message content (text with mentions, media, reactions) and the quote.
import type { AnyMessageContent, WAMessage } from 'baileys';
import type { OutboundMessage } from '../../ports/provider.js';
import { mediaContent } from './mapper.js';
import type { StoredMessageRef } from './session.js';

/** What building needs from the session. */
export interface OutboundDeps {
  /** A stored message of this instance by WhatsApp message id (for reply and reaction targets). */
  findMessage(messageId: string): Promise<StoredMessageRef | null>;
  /** The bytes of a media item (base64 or by URL through the guarded fetch), size-checked. */
  loadMedia(m: NonNullable<OutboundMessage['media']>): Promise<Buffer>;
}

/**
 * JIDs mentioned in a text: every `@<digits>` (8–15 digits, as WhatsApp clients write a mention) becomes
 * `<digits>@s.whatsapp.net`. Duplicates are dropped.
 */
export function mentionsIn(text: string | undefined): string[] {
  if (!text) return [];
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:^|[^\w@])@(\d{8,15})\b/g)) out.add(`${m[1]}@s.whatsapp.net`);
  return [...out];
}

/** The key of a stored message as a reply or reaction target (groups name the original sender). */
function targetKey(jid: string, id: string, target: StoredMessageRef | null) {
  return {
    remoteJid: jid,
    id,
    fromMe: target?.is_from_me ?? false,
    ...(jid.endsWith('@g.us') && target?.from && !target.is_from_me ? { participant: target.from } : {}),
  };
}

/** Baileys content for an outbound message, and the quoted message for a reply. */
export async function buildOutbound(
  msg: OutboundMessage,
  deps: OutboundDeps,
): Promise<{ content: AnyMessageContent; quoted?: WAMessage }> {
  const jid = msg.to;
  let content: AnyMessageContent;
  if (msg.reaction) {
    const target = await deps.findMessage(msg.reaction.message_id);
    content = { react: { text: msg.reaction.emoji, key: targetKey(jid, msg.reaction.message_id, target) } };
  } else if (msg.media) {
    const data = await deps.loadMedia(msg.media);
    const caption = msg.media.caption ?? msg.text;
    const mentions = mentionsIn(caption);
    content = {
      ...mediaContent(data, { ...msg.media, caption }),
      ...(mentions.length ? { mentions } : {}),
    } as AnyMessageContent;
  } else {
    const mentions = mentionsIn(msg.text);
    content = { text: msg.text ?? '', ...(mentions.length ? { mentions } : {}) };
  }
  if (!msg.reply_to || msg.reaction) return { content };
  const target = await deps.findMessage(msg.reply_to);
  return {
    content,
    quoted: { key: targetKey(jid, msg.reply_to, target), message: { conversation: target?.body ?? '' } },
  };
}
