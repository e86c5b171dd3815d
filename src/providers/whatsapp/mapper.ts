// Maps Baileys' message shapes (WAMessage, receipts, JIDs) to the provider-neutral ProviderMessage.
import { getContentType, normalizeMessageContent, proto, type WAMessage } from 'baileys';
import type { MessageStatus } from '../../domain/statuses.js';
import type { ProviderMessage } from '../../ports/provider.js';

const PN = /^(\d{5,20})(?::\d+)?@s\.whatsapp\.net$/;

/** `+<digits>` for a phone-number JID (device suffix dropped), else null (groups, LIDs). */
export function phoneOf(jid: string | null | undefined): string | null {
  const m = jid ? PN.exec(jid) : null;
  return m ? `+${m[1]}` : null;
}

/** The user JID without a device suffix: `123:4@s.whatsapp.net` → `123@s.whatsapp.net`. */
export function bareJid(jid: string): string {
  const at = jid.indexOf('@');
  if (at < 0) return jid;
  return `${jid.slice(0, at).split(':')[0]}${jid.slice(at)}`;
}

/** Prefers the phone-number form of a JID pair (Baileys 7 gives LID + `…Alt`). */
function preferPn(jid: string | null | undefined, alt: string | null | undefined): string | null {
  if (jid && PN.test(jid)) return bareJid(jid);
  if (alt && PN.test(alt)) return bareJid(alt);
  return jid ? bareJid(jid) : null;
}

const toIso = (ts: WAMessage['messageTimestamp']): string => {
  const n = typeof ts === 'number' ? ts : ts ? Number(ts.toString()) : 0;
  return (n > 0 ? new Date(n * 1000) : new Date()).toISOString();
};

/** At most this many mentions are kept per message (a WhatsApp group has at most 1024 members). */
const MAX_MENTIONS = 1024;

/** The user JIDs a message's `contextInfo.mentionedJid` names (device suffix dropped, duplicates removed). */
function mentionsOf(ctx: { mentionedJid?: string[] | null } | null | undefined): string[] {
  const jids = (ctx?.mentionedJid ?? []).filter((j): j is string => typeof j === 'string' && j.includes('@'));
  return [...new Set(jids.map(bareJid))].slice(0, MAX_MENTIONS);
}

const MEDIA_TYPES: Record<string, string> = {
  imageMessage: 'image',
  videoMessage: 'video',
  audioMessage: 'audio',
  documentMessage: 'document',
  documentWithCaptionMessage: 'document',
  stickerMessage: 'sticker',
};

/** Message kinds that are protocol plumbing, not user content. */
const SKIP = new Set([
  'protocolMessage',
  'senderKeyDistributionMessage',
  'messageContextInfo',
  'pollUpdateMessage',
  'keepInChatMessage',
]);

/**
 * Maps one Baileys message; null for status broadcasts, protocol messages and empty stubs.
 * `me` is the account JID (`<phone>@s.whatsapp.net`).
 */
export function mapMessage(m: WAMessage, me: string | null): ProviderMessage | null {
  const key = m.key;
  if (!key?.id || !key.remoteJid || key.remoteJid === 'status@broadcast') return null;
  const content = normalizeMessageContent(m.message);
  if (!content) return null;
  const kind = getContentType(content);
  if (!kind || SKIP.has(kind)) return null;
  const isGroup = key.remoteJid.endsWith('@g.us');
  const chatId = isGroup ? key.remoteJid : (preferPn(key.remoteJid, key.remoteJidAlt) ?? key.remoteJid);
  const fromMe = !!key.fromMe;
  const sender = fromMe
    ? me
    : isGroup
      ? preferPn(key.participant ?? m.participant, key.participantAlt)
      : chatId;
  let type = 'text';
  let body: string | null = null;
  let media: Record<string, unknown> | null = null;
  let replyTo: string | null = null;
  let mentions: string[] = [];
  const c = content as proto.IMessage & Record<string, any>;
  switch (kind) {
    case 'conversation':
      body = c.conversation ?? null;
      break;
    case 'extendedTextMessage':
      body = c.extendedTextMessage?.text ?? null;
      replyTo = c.extendedTextMessage?.contextInfo?.stanzaId ?? null;
      mentions = mentionsOf(c.extendedTextMessage?.contextInfo);
      break;
    case 'reactionMessage':
      type = 'reaction';
      body = c.reactionMessage?.text ?? '';
      replyTo = c.reactionMessage?.key?.id ?? null;
      break;
    case 'locationMessage':
      type = 'location';
      body = c.locationMessage?.name ?? null;
      media = {
        latitude: c.locationMessage?.degreesLatitude ?? null,
        longitude: c.locationMessage?.degreesLongitude ?? null,
      };
      break;
    case 'contactMessage':
      type = 'contact';
      body = c.contactMessage?.displayName ?? null;
      break;
    default: {
      const mediaType = MEDIA_TYPES[kind];
      if (!mediaType) {
        type = String(kind).replace(/Message$/, '') || 'unknown';
        break;
      }
      const inner = (
        kind === 'documentWithCaptionMessage'
          ? c.documentWithCaptionMessage?.message?.documentMessage
          : c[kind]
      ) as Record<string, any> | null | undefined;
      type = mediaType;
      body = inner?.caption ?? null;
      replyTo = inner?.contextInfo?.stanzaId ?? null;
      mentions = mentionsOf(inner?.contextInfo);
      media = {
        mimetype: inner?.mimetype ?? null,
        filename: inner?.fileName ?? null,
        size: inner?.fileLength != null ? Number(inner.fileLength.toString()) : null,
        seconds: inner?.seconds ?? null,
        ...(kind === 'audioMessage' ? { voice: !!inner?.ptt } : {}),
        width: inner?.width ?? null,
        height: inner?.height ?? null,
      };
    }
  }
  return {
    message_id: key.id,
    chat_id: chatId,
    from: sender,
    to: fromMe ? chatId : me,
    body,
    type,
    is_from_me: fromMe,
    is_group: isGroup,
    group_id: isGroup ? key.remoteJid : null,
    contact_name: fromMe ? null : (m.pushName ?? null),
    contact_phone: fromMe ? null : phoneOf(sender),
    reply_to: replyTo,
    media,
    ...(mentions.length ? { mentions } : {}),
    timestamp: toIso(m.messageTimestamp),
  };
}

/** Baileys' WebMessageInfo.Status (from `messages.update`) → our delivery status; null when not an ack. */
export function ackStatus(status: number | null | undefined): MessageStatus | null {
  switch (status) {
    case proto.WebMessageInfo.Status.SERVER_ACK:
      return 'sent';
    case proto.WebMessageInfo.Status.DELIVERY_ACK:
      return 'delivered';
    case proto.WebMessageInfo.Status.READ:
    case proto.WebMessageInfo.Status.PLAYED:
      return 'read';
    default:
      return null;
  }
}

/**
 * Baileys message content for an outbound media item, chosen by MIME type: `image/webp` without a caption is a
 * sticker (a sticker cannot carry a caption, so a captioned WebP goes as an image), other `image/*`, `video/*`,
 * `audio/*` (an Ogg/Opus audio is sent as a voice note, `ptt`, as WhatsApp clients record them), anything else a
 * document.
 */
export function mediaContent(
  data: Buffer,
  m: { mimetype?: string; filename?: string; caption?: string },
): Record<string, unknown> {
  const mimetype = m.mimetype ?? 'application/octet-stream';
  const caption = m.caption;
  if (/^image\/webp\b/i.test(mimetype) && !caption) return { sticker: data, mimetype: 'image/webp' };
  if (mimetype.startsWith('image/')) return { image: data, mimetype, caption };
  if (mimetype.startsWith('video/')) return { video: data, mimetype, caption };
  if (mimetype.startsWith('audio/')) {
    return { audio: data, mimetype, ...(/^audio\/ogg\b/.test(mimetype) ? { ptt: true } : {}) };
  }
  return { document: data, mimetype, fileName: m.filename ?? 'file', caption };
}
