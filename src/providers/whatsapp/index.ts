// The `whatsapp` provider (alias `whatsappweb`): WhatsApp Web multi-device through Baileys, auth state in SQL.
import makeWASocket, { WA_CERT_DETAILS } from 'baileys';
import { scrubDeep } from '../../domain/text.js';
import type { HistoryStore } from '../../ports/history.js';
import type { IdentityStore } from '../../ports/identities.js';
import type { SessionLeases } from '../../ports/leases.js';
import type { ProviderFactory } from '../../ports/provider.js';
import type { Store } from '../../ports/store.js';
import { type WhatsAppAuthPort, WhatsAppAuthStore } from './auth-store.js';
import { mentionsIn, newWhatsAppMessageId } from './outbound.js';
import { quietLibsignal } from './quiet-libsignal.js';
import {
  type SocketMaker,
  type WhatsAppKnobs,
  WhatsAppSession,
  type WhatsAppSessionDeps,
} from './session.js';

/** WhatsApp Web version we announce; pinned (never fetched at run time: that needs the internet). */
export const WA_VERSION: [number, number, number] = [2, 3000, 1043857760];

export interface WhatsAppProviderOptions {
  /** The gateway's store: auth state (unless `auth` is given), message lookups, contacts. */
  store?: Store;
  /** Auth state storage override (in memory for contract runs and benchmarks). */
  auth?: WhatsAppAuthPort;
  /** Websocket URL override (a local emulator in tests); WhatsApp's own server when unset. */
  wsUrl?: string;
  /** Base64 Ed25519 root key to trust instead of WhatsApp's (tests against the emulator only). */
  trustRootKey?: string;
  maxReconnectAttempts?: number;
  healthCheckIntervalMs?: number;
  /** History sync window in days (WHATSAPP_HISTORY_DAYS; default 7, 0 = none). */
  historyDays?: number;
  /** WHATSAPP_DECRYPT_RETRY_MS: how long an undecryptable message waits for a re-send (default 15 000). */
  decryptRetryMs?: number;
  /** Where history-sync messages are stored (the gateway passes the SQL history repository). */
  history?: HistoryStore;
  knobs?: Partial<WhatsAppKnobs>;
  makeSocket?: SocketMaker;
  /** Cluster leases: after a 440 the session retries only while this replica still holds the instance's lease. */
  leases?: SessionLeases;
  fetchMedia?: WhatsAppSessionDeps['fetchMedia'];
  /** LID ↔ phone pairs per instance (the gateway's SQL identity store). */
  identities?: IdentityStore;
  downloadMedia?: WhatsAppSessionDeps['downloadMedia'];
}

/** Creates the provider factory; sessions share the store for auth state, message lookups and contacts. */
export function createWhatsAppProvider(opts: WhatsAppProviderOptions): ProviderFactory {
  quietLibsignal();
  if (opts.trustRootKey) {
    const key = Buffer.from(opts.trustRootKey, 'base64');
    if (key.length !== 32) throw new Error('WHATSAPP_TRUST_ROOT_KEY must be 32 bytes in base64');
    WA_CERT_DETAILS.PUBLIC_KEY = key;
  }
  const knobs: WhatsAppKnobs = {
    wsUrl: opts.wsUrl,
    version: WA_VERSION,
    maxReconnectAttempts: opts.maxReconnectAttempts ?? 10,
    healthCheckIntervalMs: opts.healthCheckIntervalMs ?? 30_000,
    backoffBaseMs: 1000,
    backoffMaxMs: 60_000,
    connectTimeoutMs: 20_000,
    keepAliveIntervalMs: 30_000,
    maxMediaBytes: 16 * 1024 * 1024,
    historyDays: opts.historyDays ?? 7,
    decryptRetryMs: opts.decryptRetryMs ?? 15_000,
    ...opts.knobs,
  };
  if (!opts.auth && !opts.store) throw new Error('the whatsapp provider needs a store or an auth port');
  const auth = opts.auth ?? new WhatsAppAuthStore(opts.store!.whatsappAuth);
  const store = opts.store;
  const leases = opts.leases;
  const makeSocket = opts.makeSocket ?? (makeWASocket as unknown as SocketMaker);
  return {
    name: 'whatsapp',
    aliases: ['whatsappweb'],
    capabilities: new Set(['qr', 'pairingCode', 'media', 'groups', 'reactions', 'markRead', 'typing']),
    addressing: 'phone',
    secretSettings: [],
    newMessageId: newWhatsAppMessageId,
    mentionsIn,
    createSession: (ctx) =>
      new WhatsAppSession({
        ctx,
        auth,
        makeSocket,
        knobs,
        ownsSession: leases
          ? async () => (await leases.owner(ctx.instanceId)) === leases.replicaId
          : undefined,
        history: opts.history,
        fetchMedia: opts.fetchMedia,
        identities: opts.identities,
        // The chat list shows groups by subject (a new group's chat appears, dated by its creation).
        nameGroupChat: store
          ? (chatId, subject, creation) =>
              store.chats.touch({
                instance_id: ctx.instanceId,
                chat_id: chatId,
                name: scrubDeep(subject),
                is_group: true,
                at: new Date((creation ?? 0) * 1000 || Date.now()).toISOString(),
                preview: null,
                unread_delta: 0,
              })
          : undefined,
        downloadMedia: opts.downloadMedia,
        findMessage: async (instanceId, messageId) =>
          store ? store.messages.getByMessageId(instanceId, messageId) : null,
        // Contacts go to the store directly (not through the core's event ingest): scrub their names here.
        upsertContact: store
          ? (c) => store.contacts.upsert({ instance_id: ctx.instanceId, ...scrubDeep(c) })
          : undefined,
      }),
  };
}
