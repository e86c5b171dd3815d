// History sync for the emulator: the account's own phone sends a linked device its chat history after a link.
import { deflateSync } from 'node:zlib';
import { type BinaryNode, getBinaryNodeChild, getBinaryNodeChildren, proto } from 'baileys';

const S_WHATSAPP_NET = 's.whatsapp.net';

/** One message of a conversation in a history chunk. */
export interface HistoryMessageSpec {
  /** Message id (default: a random WhatsApp-like id). */
  id?: string;
  text: string;
  /** Sent by the account itself (default false: sent by the contact). */
  fromMe?: boolean;
  /** Unix time in seconds (default now). */
  t?: number;
  pushName?: string;
}

/** One 1:1 conversation in a history chunk. */
export interface HistoryConversationSpec {
  /** The contact's phone number (digits). */
  phone: string;
  name?: string;
  messages: HistoryMessageSpec[];
}

/** One history-sync chunk, as WhatsApp's phone sends it (`HistorySyncNotification` with an inline payload). */
export interface HistoryChunkSpec {
  /** Default `INITIAL_BOOTSTRAP`. */
  syncType?: 'INITIAL_BOOTSTRAP' | 'RECENT' | 'FULL' | 'PUSH_NAME';
  conversations: HistoryConversationSpec[];
  /** Sync progress in percent as WhatsApp reports it (default 100 on the last chunk). */
  progress?: number;
  chunkOrder?: number;
}

let counter = 0;
const historyId = (): string =>
  `3EB0H${Date.now().toString(16).toUpperCase()}${(counter++).toString(16).toUpperCase()}`;

/**
 * The plaintext `proto.Message` the phone sends: a `HISTORY_SYNC_NOTIFICATION` protocol message whose
 * `initialHistBootstrapInlinePayload` is the zlib-deflated `HistorySync` (Baileys inflates it; no media server).
 * Message ids left out in `chunk` are filled in place, so a test can send the same chunk twice.
 */
export function historyNotification(chunk: HistoryChunkSpec, accountPhone: string): proto.IMessage {
  const syncType = proto.HistorySync.HistorySyncType[chunk.syncType ?? 'INITIAL_BOOTSTRAP'];
  const nowS = Math.floor(Date.now() / 1000);
  const conversations = chunk.conversations.map((c) => {
    const jid = `${c.phone}@${S_WHATSAPP_NET}`;
    return {
      id: jid,
      name: c.name,
      messages: c.messages.map((m) => {
        m.id ??= historyId();
        return {
          message: {
            key: { remoteJid: jid, fromMe: !!m.fromMe, id: m.id },
            message: { conversation: m.text },
            messageTimestamp: m.t ?? nowS,
            pushName: m.fromMe ? undefined : (m.pushName ?? c.name),
            status: m.fromMe ? proto.WebMessageInfo.Status.DELIVERY_ACK : undefined,
            participant: m.fromMe ? `${accountPhone}@${S_WHATSAPP_NET}` : undefined,
          },
        };
      }),
    };
  });
  const payload = proto.HistorySync.encode({
    syncType,
    conversations,
    progress: chunk.progress,
    chunkOrder: chunk.chunkOrder,
  }).finish();
  return {
    protocolMessage: {
      type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
      historySyncNotification: {
        syncType,
        initialHistBootstrapInlinePayload: deflateSync(payload),
        progress: chunk.progress,
        chunkOrder: chunk.chunkOrder,
      },
    },
  };
}

/**
 * The answer to an app-state resync (`w:sync:app:state`): every requested collection at its version with no
 * patches and no snapshot (the emulator keeps no app state). Without a `collection` per request Baileys asks again
 * forever.
 */
export function appStateSyncResult(iq: BinaryNode): BinaryNode[] {
  const sync = getBinaryNodeChild(iq, 'sync');
  const collections = getBinaryNodeChildren(sync, 'collection').map((c) => ({
    tag: 'collection',
    attrs: { name: c.attrs.name ?? '', version: c.attrs.version ?? '0' },
  }));
  return [{ tag: 'sync', attrs: {}, content: collections }];
}
