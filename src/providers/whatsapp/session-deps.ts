// The seams of a WhatsApp session: the Baileys socket surface it uses, its tunables and its dependencies.
import type { UserFacingSocketConfig, WAMessage, WASocket } from 'baileys';
import type { HistoryStore } from '../../ports/history.js';
import type { IdentityStore } from '../../ports/identities.js';
import type { SessionContext } from '../../ports/provider.js';
import type { WhatsAppAuthPort } from './auth-store.js';
import type { LidLookup } from './identities.js';

/** The part of Baileys' socket the session uses (a fake socket in tests implements just this). */
export type WaSocket = Pick<
  WASocket,
  | 'ev'
  | 'end'
  | 'logout'
  | 'sendMessage'
  | 'requestPairingCode'
  | 'readMessages'
  | 'sendPresenceUpdate'
  | 'query'
  | 'updateMediaMessage'
  | 'groupCreate'
  | 'groupMetadata'
  | 'groupFetchAllParticipating'
  | 'groupParticipantsUpdate'
> & { user?: WASocket['user']; signalRepository?: { lidMapping: LidLookup } };

/** Builds a socket (Baileys' `makeWASocket` in production). */
export type SocketMaker = (config: UserFacingSocketConfig) => WaSocket;

/** A stored message, as far as the session needs it (replies, reactions, retry requests). */
export interface StoredMessageRef {
  chat_id: string;
  body: string | null;
  is_from_me: boolean;
  from: string | null;
}

/** Tunables of the session (from configuration; tests shorten them). */
export interface WhatsAppKnobs {
  wsUrl?: string;
  version: [number, number, number];
  maxReconnectAttempts: number;
  healthCheckIntervalMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  connectTimeoutMs: number;
  keepAliveIntervalMs: number;
  /** Largest outbound media item in bytes. */
  maxMediaBytes: number;
  /**
   * History sync after a link (WHATSAPP_HISTORY_DAYS): messages up to this many days old are stored; 0 tells
   * Baileys to take no history (it then skips the initial app-state sync and the wait for the history).
   */
  historyDays: number;
  /** How long an undecryptable message waits for the sender's re-send before it is reported (ms). */
  decryptRetryMs: number;
}

export interface WhatsAppSessionDeps {
  ctx: SessionContext;
  auth: WhatsAppAuthPort;
  makeSocket: SocketMaker;
  knobs: WhatsAppKnobs;
  /** Looks up a stored message of this instance by WhatsApp message id. */
  findMessage(instanceId: string, messageId: string): Promise<StoredMessageRef | null>;
  /** Keeps the contacts table current (names, LID ↔ phone). */
  upsertContact?(c: { contact_id: string; name: string | null; phone: string | null }): Promise<void>;
  /** Stores history-sync messages (idempotent); without it history is counted but not kept. */
  history?: HistoryStore;
  /** Whether this process still owns the session (a lease elsewhere may say no). Default: yes. */
  ownsSession?(): Promise<boolean>;
  /** Downloads and decrypts an inbound media message (Baileys' downloadMediaMessage; tests replace it). */
  downloadMedia?(raw: WAMessage, sock: WaSocket): Promise<Buffer>;
  /** Fetches outbound media by URL: the gateway's guarded fetch (SSRF-safe, size-capped); tests replace it. */
  fetchMedia?(url: string, maxBytes: number): Promise<Buffer>;
  random?: () => number;
  /** Names a group's chat after its subject (creating the chat when new); `creation` in Unix seconds. */
  nameGroupChat?(chatId: string, subject: string, creation?: number): Promise<void>;
  /** LID ↔ phone pairs of the instance (merges a LID's chat into the phone's); without it LIDs stay as they come. */
  identities?: IdentityStore;
}
