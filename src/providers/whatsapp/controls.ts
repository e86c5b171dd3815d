// Controls of an open WhatsApp session: read receipts, typing, groups and media downloads (POST …/control actions).
import { downloadMediaMessage, type UserFacingSocketConfig, type WAMessage } from 'baileys';
import { SbError } from '../../domain/errors.js';
import { baileysLogger, errText } from './baileys-logger.js';
import { type GroupCache, groupView, rateLimitError } from './groups.js';
import { mapMessage } from './mapper.js';
import type { WaSocket, WhatsAppSessionDeps } from './session-deps.js';

/** What the controls need from their session. */
export interface ControlHost {
  readonly deps: WhatsAppSessionDeps;
  readonly groups: GroupCache;
  /** The logged-in account (bare JID), once known. */
  account(): string | null;
  /** The open socket; SB_ERR_NOT_CONNECTED otherwise. */
  requireOpen(): WaSocket;
}

/** Runs one control action (everything but pairing_code, which belongs to login). Unknown: SB_ERR_UNSUPPORTED. */
export async function runControl(
  host: ControlHost,
  action: string,
  payload: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  switch (action) {
    case 'download_media':
      return downloadMedia(host, String(payload.message_id ?? ''));
    case 'mark_read': {
      const sock = host.requireOpen();
      const chat = String(payload.chat_id ?? '');
      const ids = Array.isArray(payload.message_ids) ? payload.message_ids.map(String) : [];
      await sock.readMessages(ids.map((id) => ({ remoteJid: chat, id, fromMe: false })));
      return { read: ids.length };
    }
    case 'create_group': {
      const sock = host.requireOpen();
      const participants = Array.isArray(payload.participants) ? payload.participants.map(String) : [];
      const meta = await sock.groupCreate(String(payload.subject ?? ''), participants).catch((e) => {
        throw rateLimitError(e);
      });
      await host.groups.onUpsert([meta]);
      return { group_id: meta.id, subject: meta.subject, group: groupView(meta) };
    }
    case 'list_groups': {
      const list = await host.groups.list(host.requireOpen(), payload.refresh === true);
      return { groups: list.map(groupView) };
    }
    case 'group_info': {
      const meta = await host.groups.get(host.requireOpen(), String(payload.group_id ?? ''));
      return { group: groupView(meta) };
    }
    case 'group_participants': {
      const sock = host.requireOpen();
      const change = String(payload.action) as 'add' | 'remove' | 'promote' | 'demote';
      const jids = Array.isArray(payload.participants) ? payload.participants.map(String) : [];
      const res = await sock
        .groupParticipantsUpdate(String(payload.group_id ?? ''), jids, change)
        .catch((e) => {
          throw rateLimitError(e);
        });
      return { results: res.map((r) => ({ id: r.jid ?? null, status: Number(r.status) || null })) };
    }
    case 'typing': {
      const sock = host.requireOpen();
      const presence = payload.state === 'paused' ? 'paused' : 'composing';
      await sock.sendPresenceUpdate(presence, String(payload.chat_id ?? ''));
      return { presence };
    }
    default:
      throw new SbError('SB_ERR_UNSUPPORTED', `the whatsapp provider has no action ${action}`);
  }
}

/** The bytes of an inbound media message, fetched from WhatsApp's media servers and decrypted. */
async function downloadMedia(host: ControlHost, messageId: string): Promise<Record<string, unknown>> {
  const { deps } = host;
  const raw = (await deps.auth.loadMediaRef(deps.ctx.instanceId, messageId)) as WAMessage | null;
  if (!raw) throw new SbError('SB_ERR_MESSAGE_NOT_FOUND', `no media for message ${messageId}`);
  const sock = host.requireOpen();
  const mapped = mapMessage(raw, host.account());
  const download =
    deps.downloadMedia ??
    ((msg: WAMessage, s: WaSocket) =>
      downloadMediaMessage(
        msg,
        'buffer',
        {},
        {
          reuploadRequest: (x) => s.updateMediaMessage(x),
          logger: baileysLogger(deps.ctx.logger) as unknown as NonNullable<UserFacingSocketConfig['logger']>,
        },
      ));
  try {
    const data = await download(raw, sock);
    return {
      data,
      mimetype: (mapped?.media?.mimetype as string | null) ?? 'application/octet-stream',
      filename: (mapped?.media?.filename as string | null) ?? null,
    };
  } catch (err) {
    throw new SbError('SB_ERR_PROVIDER', `could not download the media: ${errText(err)}`, { cause: err });
  }
}
