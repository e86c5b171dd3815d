// The provider port: what a messenger adapter implements and what it may tell the core.
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

/** An inbound or outbound message in the provider-neutral shape. */
export interface ProviderMessage {
  message_id: string;
  chat_id: string;
  from: string | null;
  to: string | null;
  body: string | null;
  type: string;
  is_from_me: boolean;
  is_group: boolean;
  group_id?: string | null;
  contact_name?: string | null;
  contact_phone?: string | null;
  reply_to?: string | null;
  media?: Record<string, unknown> | null;
  timestamp: string;
}

/** Normalised facts a provider reports. The core persists each and publishes it in one step. */
export type ProviderEvent =
  | { type: 'auth'; auth_status: AuthStatus; account?: string | null; reason?: string }
  | { type: 'qr'; qr: string }
  | { type: 'message'; message: ProviderMessage }
  | { type: 'ack'; message_id: string; status: MessageStatus }
  | { type: 'error'; message: string; code?: string }
  | { type: 'reconnect_failed'; attempts: number }
  | { type: 'health_check_failed'; reason: string }
  /** A group changed: participants added/removed/promoted/demoted, or created/updated (subject, settings…). */
  | { type: 'group'; event: 'group.participants' | 'group.update'; data: Record<string, unknown> };

export interface OutboundMessage {
  to: string;
  text?: string;
  reply_to?: string | null;
  media?: { url?: string; base64?: string; mimetype?: string; filename?: string; caption?: string } | null;
  reaction?: { message_id: string; emoji: string } | null;
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
  createSession(ctx: SessionContext): ProviderSession;
}

/** Looks providers up by name or alias. */
export interface ProviderRegistry {
  get(name: string): ProviderFactory | undefined;
  list(): ProviderFactory[];
}
