// Maps WAHA statuses, webhook events and message ids to the provider-neutral model; WAHA shapes stay here.
import { z } from 'zod';
import type { AuthStatus, MessageStatus } from '../../domain/statuses.js';
import type { ProviderMessage } from '../../ports/provider.js';
import type { WahaStatus } from './client.js';

/** WAHA `@c.us` user ids → our `@s.whatsapp.net` JIDs (groups and others unchanged). */
export function fromWahaJid(id: string): string {
  return id.replace(/@c\.us$/, '@s.whatsapp.net');
}

/** Our JIDs → WAHA chat ids (`@c.us` for users). */
export function toWahaChatId(jid: string): string {
  return jid.replace(/@s\.whatsapp\.net$/, '@c.us');
}

/**
 * WAHA status → our auth status. STARTING is `reconnecting` when the session had been logged in before,
 * `pending` otherwise; SCAN_QR_CODE becomes `qr_ready` through the QR itself (null here: the QR event sets it).
 */
export function authOf(status: WahaStatus, wasReady: boolean): AuthStatus | null {
  switch (status) {
    case 'WORKING':
      return 'client_ready';
    case 'STARTING':
      return wasReady ? 'reconnecting' : null;
    case 'SCAN_QR_CODE':
      return null;
    case 'STOPPED':
      return 'disconnected';
    case 'FAILED':
      return 'failed';
    default:
      return null;
  }
}

/** WAHA ack numbers (-1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED) → our delivery status. */
export function ackStatus(ack: number): MessageStatus | null {
  if (ack === -1) return 'failed';
  if (ack === 1) return 'sent';
  if (ack === 2) return 'delivered';
  if (ack === 3 || ack === 4) return 'read';
  return null;
}

/** The serialized message id from a WAHA send response (the shape differs by engine: WEBJS, NOWEB, GOWS). */
export function sentMessageId(r: unknown): string | null {
  if (!r || typeof r !== 'object') return null;
  const o = r as Record<string, any>;
  if (typeof o.id === 'string') return o.id;
  if (o.id && typeof o.id._serialized === 'string') return o.id._serialized;
  if (o.key && typeof o.key.id === 'string')
    return `${o.key.fromMe ? 'true' : 'false'}_${o.key.remoteJid}_${o.key.id}`;
  return null;
}

export const wahaWebhookSchema = z
  .object({
    event: z.string().min(1).max(64),
    session: z.string().min(1).max(128),
    me: z.object({ id: z.string(), pushName: z.string().nullish() }).passthrough().nullish(),
    payload: z.record(z.string(), z.unknown()).default({}),
  })
  .passthrough();

/** A WAHA webhook body (`{event, session, me, payload, …}`). */
export type WahaWebhook = z.infer<typeof wahaWebhookSchema>;

const messagePayload = z
  .object({
    id: z.string().min(1),
    timestamp: z.number().optional(),
    from: z.string().min(1),
    fromMe: z.boolean().default(false),
    to: z.string().nullish(),
    participant: z.string().nullish(),
    body: z.string().nullish(),
    hasMedia: z.boolean().default(false),
    media: z
      .object({ url: z.string().nullish(), mimetype: z.string().nullish(), filename: z.string().nullish() })
      .passthrough()
      .nullish(),
    replyTo: z.object({ id: z.string().nullish() }).passthrough().nullish(),
    _data: z.record(z.string(), z.unknown()).nullish(),
  })
  .passthrough();

function mediaType(mimetype: string | null | undefined): string {
  const m = (mimetype ?? '').toLowerCase();
  if (m.startsWith('image/')) return 'image';
  if (m.startsWith('video/')) return 'video';
  if (m.startsWith('audio/')) return 'audio';
  return 'document';
}

/** A WAHA `message` payload as our message, or null when it is not one. */
export function mapWahaMessage(
  payload: Record<string, unknown>,
  account: string | null,
): ProviderMessage | null {
  const parsed = messagePayload.safeParse(payload);
  if (!parsed.success) return null;
  const p = parsed.data;
  const chatRaw = p.fromMe ? (p.to ?? p.from) : p.from;
  const chat = fromWahaJid(chatRaw);
  const isGroup = chat.endsWith('@g.us');
  const sender = fromWahaJid(
    p.fromMe ? (account ?? p.from) : isGroup && p.participant ? p.participant : p.from,
  );
  const name = p._data?.notifyName ?? p._data?.pushName ?? null;
  return {
    message_id: p.id,
    chat_id: chat,
    from: sender,
    to: p.fromMe ? chat : account,
    body: p.body ?? null,
    type: p.hasMedia ? mediaType(p.media?.mimetype) : 'text',
    is_from_me: p.fromMe,
    is_group: isGroup,
    group_id: isGroup ? chat : null,
    contact_name: typeof name === 'string' ? name : null,
    reply_to: p.replyTo?.id ?? null,
    media: p.hasMedia
      ? {
          url: p.media?.url ?? null,
          mimetype: p.media?.mimetype ?? null,
          filename: p.media?.filename ?? null,
        }
      : null,
    timestamp: new Date(p.timestamp ? p.timestamp * 1000 : Date.now()).toISOString(),
  };
}
