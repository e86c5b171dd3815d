// Plain data shapes shared by every layer: companies, instances, messages, chats, contacts, events, keys.
import type { AuthStatus, DesiredState, InstanceStatus, InstanceType, MessageStatus } from './statuses.js';

export interface Company {
  id: string;
  name: string;
  created_at: string;
}

/** One messenger connection of a company, as stored. `settings` may hold secrets: never return it raw. */
export interface Instance {
  id: string;
  company_id: string;
  name: string | null;
  provider: string;
  type_instance: InstanceType[];
  status: InstanceStatus;
  auth_status: AuthStatus;
  desired_state: DesiredState;
  account: string | null;
  qr: string | null;
  qr_updated_at: string | null;
  settings: Record<string, unknown>;
  mcp_schema: Record<string, unknown>;
  is_pooled: boolean;
  assigned_to: string | null;
  last_error: string | null;
  last_activity_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface Message {
  id: string;
  instance_id: string;
  company_id: string;
  message_id: string | null;
  chat_id: string;
  from: string | null;
  to: string | null;
  body: string | null;
  type: string;
  is_from_me: boolean;
  is_group: boolean;
  group_id: string | null;
  contact_name: string | null;
  reply_to: string | null;
  media: Record<string, unknown> | null;
  /** JIDs the message mentions (WhatsApp: user JIDs, `<digits>@s.whatsapp.net` or a LID); empty when none. */
  mentions: string[];
  status: MessageStatus;
  timestamp: string;
  created_at: string;
  /** The sender's phone (E.164) when its JID carries one: LIDs are rewritten to the phone JID once it is known. */
  sender_phone?: string | null;
}

export interface Chat {
  instance_id: string;
  chat_id: string;
  name: string | null;
  is_group: boolean;
  last_message_at: string | null;
  last_message_preview: string | null;
  unread_count: number;
  /** The phone (E.164) of a 1:1 WhatsApp chat when known (a LID chat is merged into the phone chat once known). */
  phone?: string | null;
}

export interface Contact {
  instance_id: string;
  contact_id: string;
  name: string | null;
  phone: string | null;
  updated_at: string;
}

/**
 * The company that holds deployment-wide delivery targets (EVENT_SINK_DEFAULT): its endpoints receive the events of
 * every company. Not a tenant: no key is ever issued for it.
 */
export const DEPLOYMENT_COMPANY = '__deployment__';

// Events: one schema per type in events.ts (the union emitters must build); re-exported for the layers that read them.
export {
  type DomainEvent,
  EVENT_TYPES,
  type EventData,
  type EventType,
  type GatewayEvent,
  isEventOf,
  type NewEvent,
  type NewLogEvent,
} from './events.js';

export type KeyKind = 'admin' | 'company' | 'instance';

/** What a scoped company key may do; a key without scopes may do all of it. */
export const KEY_SCOPES = ['read', 'send', 'control', 'admin'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

export interface ApiKeyRecord {
  id: string;
  kind: KeyKind;
  prefix: string;
  hash: string;
  company_id: string | null;
  instance_id: string | null;
  scopes: string[];
  /** Restricts a company key to these instances (null: all of its company). */
  instance_ids?: string[] | null;
  label: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** Who is calling: resolved from an API key. */
export type Principal =
  | { kind: 'admin'; keyId: string | null }
  | {
      kind: 'company';
      companyId: string;
      keyId: string;
      /** Empty means every scope. */
      scopes: string[];
      /** When set, the key may act on these instances only. */
      instanceIds?: string[] | null;
    }
  | { kind: 'instance'; companyId: string; instanceId: string; keyId: string };
