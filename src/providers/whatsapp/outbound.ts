// Outbound for WhatsApp: Baileys message content (text with mentions, media, reactions), the quote, and the send.
import { randomBytes } from 'node:crypto';
import type { AnyMessageContent, WAMessage } from 'baileys';
import { SbError } from '../../domain/errors.js';
import type { OutboundMessage, SendResult } from '../../ports/provider.js';
import { rateLimitError } from './groups.js';
import type { SessionIdentities } from './identities.js';
import { mediaContent } from './mapper.js';
import type { SentLedger } from './sent-ledger.js';
import type { StoredMessageRef, WaSocket } from './session-deps.js';

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

/** A fresh WhatsApp message id, as WhatsApp Web writes them (the core stores the row under it before the send). */
export function newWhatsAppMessageId(): string {
  return `3EB0${randomBytes(8).toString('hex').toUpperCase()}`;
}

/** What a send needs besides the open socket. */
export interface SendDeps extends OutboundDeps {
  sent: SentLedger;
  ids: SessionIdentities;
}

/**
 * Sends on an open socket under a message id of our own (the one the core chose and stored, else a fresh one), so
 * that the echo and early acks can be matched; a WhatsApp rate limit becomes SB_ERR_RATE_LIMITED.
 */
export async function sendOutbound(
  sock: WaSocket,
  msg: OutboundMessage,
  deps: SendDeps,
): Promise<SendResult> {
  const jid = msg.to;
  const { content, quoted } = await buildOutbound(msg, deps);
  const messageId = msg.message_id ?? newWhatsAppMessageId();
  deps.sent.remember(messageId, {});
  const release = deps.sent.hold(messageId);
  try {
    const sent = await sock.sendMessage(jid, content, { messageId, ...(quoted ? { quoted } : {}) });
    if (sent?.message) deps.sent.remember(messageId, sent.message);
    release();
    await deps.ids.learnFromSend(jid, sock.signalRepository?.lidMapping);
    const ts = sent?.messageTimestamp;
    const seconds = typeof ts === 'number' ? ts : ts ? Number(ts.toString()) : 0;
    return {
      message_id: sent?.key.id ?? messageId,
      timestamp: (seconds > 0 ? new Date(seconds * 1000) : new Date()).toISOString(),
    };
  } catch (err) {
    deps.sent.forget(messageId);
    release();
    throw rateLimitError(err);
  }
}

/**
 * The bytes of an outbound media item: base64 (a data: prefix is dropped) or a URL through `fetchMedia` (the
 * gateway's guarded fetch; without one, URLs are refused). Empty or larger than `maxBytes`: a coded 4xx.
 */
export async function loadOutboundMedia(
  m: NonNullable<OutboundMessage['media']>,
  maxBytes: number,
  fetchMedia: ((url: string, maxBytes: number) => Promise<Buffer>) | undefined,
): Promise<Buffer> {
  let data: Buffer;
  if (m.base64) {
    data = Buffer.from(m.base64.replace(/^data:[^,]*,/, ''), 'base64');
  } else if (m.url) {
    if (!fetchMedia) {
      throw new SbError('SB_ERR_UNSUPPORTED', 'media by URL is not available here; send it as base64');
    }
    data = await fetchMedia(m.url, maxBytes);
  } else {
    throw new SbError('SB_ERR_VALIDATION', 'media needs url or base64');
  }
  if (data.length === 0) throw new SbError('SB_ERR_VALIDATION', 'media is empty');
  if (data.length > maxBytes) {
    throw new SbError('SB_ERR_PAYLOAD_TOO_LARGE', `media is larger than ${maxBytes} bytes`, {
      details: { max_bytes: maxBytes },
    });
  }
  return data;
}
