// The provider port: what a messenger adapter implements and what it may tell the core.
import type { EventData } from '../domain/events.js';
import type { Message } from '../domain/model.js';
import type { AuthStatus, MessageStatus } from '../domain/statuses.js';

export type Capability =
  | 'qr'
  | 'pairingCode'
  | 'token'
  | 'media'
  | 'groups'
  | 'reactions'
  | 'markRead'
  | 'typing'
  | 'simulate';

/**
 * An inbound or outbound message in the provider-neutral shape: the domain message's fields as a provider knows them
 * (no row id, tenant or status yet; the provider's id is always known), plus the sender's phone when the provider has it.
 */
export type ProviderMessage = Pick<
  Message,
  'chat_id' | 'from' | 'to' | 'body' | 'type' | 'is_from_me' | 'is_group' | 'timestamp'
> &
  Partial<Pick<Message, 'group_id' | 'contact_name' | 'reply_to' | 'media' | 'mentions'>> & {
    message_id: string;
    contact_phone?: string | null;
  };

/** Normalised facts a provider reports. The core persists each and publishes it in one step. */
export type ProviderEvent =
  | { type: 'auth'; auth_status: AuthStatus; account?: string | null; reason?: string }
  | { type: 'qr'; qr: string }
  | { type: 'message'; message: ProviderMessage }
  | { type: 'ack'; message_id: string; status: MessageStatus }
  | { type: 'error'; message: string; code?: string }
  | { type: 'reconnect_failed'; attempts: number }
  | { type: 'health_check_failed'; reason: string; since_answer_ms?: number }
  | ({ type: 'history' } & HistoryProgress)
  | {
      /** A message that could not be decrypted, also after the sender was asked to re-send it. */
      type: 'decrypt_failed';
      message_id: string;
      chat_id: string;
      from: string | null;
      /** The decryption error as the library reported it (no key material). */
      error: string;
      /** Failed attempts seen (the first delivery plus re-sends). */
      attempts: number;
      timestamp: string;
    }
  /** A group changed: participants added/removed/promoted/demoted, or created/updated (subject, settings…). */
  | { type: 'group'; event: 'group.participants'; data: EventData<'group.participants'> }
  | { type: 'group'; event: 'group.update'; data: EventData<'group.update'> };

/** One history-sync chunk the provider stored (messages WhatsApp sends a newly linked device). */
export interface HistoryProgress {
  /** The messenger's name for the chunk kind (WhatsApp: INITIAL_BOOTSTRAP, RECENT, FULL, PUSH_NAME …). */
  sync_type: string;
  /** Progress in percent as the messenger reports it; null when it says nothing. */
  progress: number | null;
  /** Messages in the chunk, and what became of them. */
  received: number;
  stored: number;
  duplicates: number;
  /** Older than the configured history window (WHATSAPP_HISTORY_DAYS): not stored. */
  too_old: number;
  /** Not user content (protocol messages, stubs): not stored. */
  skipped: number;
  chats: number;
  contacts: number;
  /** The messenger said the sync is complete; `totals` sums every chunk of this sync. */
  complete: boolean;
  totals?: { received: number; stored: number; duplicates: number; too_old: number; skipped: number };
}

export interface OutboundMessage {
  to: string;
  text?: string;
  reply_to?: string | null;
  media?: { url?: string; base64?: string; mimetype?: string; filename?: string; caption?: string } | null;
  reaction?: { message_id: string; emoji: string } | null;
  /**
   * The id to send under, drawn from the factory's `newMessageId` (the row is already stored under it, so an ack
   * that overtakes the send finds it). Absent for providers whose ids come from their server.
   */
  message_id?: string | null;
}

export interface SendResult {
  message_id: string;
  timestamp: string;
}

export interface ProviderLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** What the core hands a provider when it opens a session. */
export interface SessionContext {
  instanceId: string;
  /** What the store knew before this session opened (e.g. a saved account to log in again). */
  previous: { auth_status: AuthStatus; account: string | null };
  companyId: string;
  /** Provider settings from the instance row (may contain secrets such as a bot token). */
  settings: Record<string, unknown>;
  /** Report a fact; resolves once the core has persisted it. Providers should await it. */
  emit(event: ProviderEvent): Promise<void>;
  logger: ProviderLogger;
}

/** A live connection of one instance. */
export interface ProviderSession {
  start(): Promise<void>;
  /** Closes the connection without logging the account out. */
  stop(): Promise<void>;
  /** Logs the account out (the next start needs a new login). */
  logout(): Promise<void>;
  send(msg: OutboundMessage): Promise<SendResult>;
  /** Provider-specific control actions (the simulator's scan/inbound/drop, a pairing code request…). */
  control?(action: string, payload: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** One provider: a folder implementing this, listed once in the registry. */
export interface ProviderFactory {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly capabilities: ReadonlySet<Capability>;
  /** How chats are named: WhatsApp-style phones/JIDs, or opaque chat ids (Telegram). */
  readonly addressing: 'phone' | 'chat_id';
  /** Checks and normalises settings at instance creation (e.g. a bot token via getMe). */
  prepare?(
    settings: Record<string, unknown>,
  ): Promise<{ settings: Record<string, unknown>; account?: string | null }>;
  /** Names of settings that are secret and must never be returned or logged. */
  readonly secretSettings?: readonly string[];
  /**
   * Present when the client chooses a message's id itself (WhatsApp, the simulator): a fresh id, passed back in
   * `OutboundMessage.message_id`. Absent when the server assigns ids (Telegram, WAHA).
   */
  newMessageId?(): string;
  /**
   * Present when an outgoing text can mention people (WhatsApp: `@<digits>`): the JIDs the provider will mention
   * for `text`, stored with the sent message as an inbound message stores its mentions.
   */
  mentionsIn?(text: string): string[];
  createSession(ctx: SessionContext): ProviderSession;
}

/** Looks providers up by name or alias. */
export interface ProviderRegistry {
  get(name: string): ProviderFactory | undefined;
  list(): ProviderFactory[];
}
