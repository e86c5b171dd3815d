// The provider registry: the ONLY file that imports every provider. A table, not an if-chain.
import type { Config } from '../config/index.js';
import { WahaWebhookTokens } from '../core/waha-identity.js';
import type { HistoryStore } from '../ports/history.js';
import type { IdentityStore } from '../ports/identities.js';
import type { SessionLeases } from '../ports/leases.js';
import type { OutboundFetch } from '../ports/outbound.js';
import type { ProviderFactory, ProviderRegistry } from '../ports/provider.js';
import type { Store } from '../ports/store.js';
import { createSimulatorProvider, type SimulatorNetwork } from './simulator/index.js';
import { createTelegramProvider } from './telegram/index.js';
import { createWahaProvider } from './waha/index.js';
import { createWhatsAppProvider } from './whatsapp/index.js';

export interface RegistryOptions {
  /** Reuse a simulator network (tests and benchmarks inspect it). */
  simulatorNetwork?: SimulatorNetwork;
  /** The gateway's store (providers that keep state in it, e.g. WhatsApp auth). */
  store?: Store;
  /** Cluster session leases: a provider may ask whether this replica still owns a session. */
  leases?: SessionLeases;
  /** The guarded fetch for media sent by URL (without it, providers refuse media by URL). */
  outbound?: OutboundFetch;
  /** History-sync storage (WhatsApp's chat history after a link). */
  history?: HistoryStore;
  /** WhatsApp LID ↔ phone identities (SQL). */
  identities?: IdentityStore;
}

/** Per-instance WAHA webhook tokens derived from the secret kept in the store. */
function tokensOf(store: Store): (instanceId: string) => Promise<string> {
  const tokens = new WahaWebhookTokens(store.meta);
  return (id) => tokens.forInstance(id);
}

type Entry = (config: Readonly<Config>, opts: RegistryOptions) => ProviderFactory | null;

/** One line per provider. Returning null disables it in this deployment. */
const PROVIDERS: Entry[] = [
  (c, o) =>
    c.simulator.enabled
      ? createSimulatorProvider({
          network: o.simulatorNetwork,
          knobs: { qrRotateMs: c.simulator.qrRotateMs, ackDelayMs: c.simulator.ackDelayMs },
        })
      : null,
  (c, o) =>
    createTelegramProvider({ apiRoot: c.telegram.apiRoot, publicUrl: c.publicUrl, outbound: o.outbound }),
  (c, o) =>
    c.waha.url
      ? createWahaProvider({
          url: c.waha.url,
          apiKey: c.waha.apiKey,
          hmacKey: c.waha.webhookHmacKey,
          webhookToken: o.store ? tokensOf(o.store) : undefined,
          webhookBase: c.publicUrl ?? `http://127.0.0.1:${c.port}`,
          outbound: o.outbound,
        })
      : null,
  (c, o) =>
    o.store
      ? createWhatsAppProvider({
          store: o.store,
          leases: o.leases,
          history: o.history,
          identities: o.identities,
          ...c.whatsapp,
          fetchMedia: o.outbound ? (url, maxBytes) => o.outbound!.download(url, { maxBytes }) : undefined,
        })
      : null,
];

export function createProviderRegistry(
  config: Readonly<Config>,
  opts: RegistryOptions = {},
): ProviderRegistry {
  const byName = new Map<string, ProviderFactory>();
  const all: ProviderFactory[] = [];
  for (const entry of PROVIDERS) {
    const f = entry(config, opts);
    if (!f) continue;
    all.push(f);
    for (const n of [f.name, ...(f.aliases ?? [])]) byName.set(n.toLowerCase(), f);
  }
  return { get: (name) => byName.get(name.toLowerCase()), list: () => [...all] };
}
