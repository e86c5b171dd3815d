// The provider registry: the ONLY file that imports every provider. A table, not an if-chain.
import type { Config } from '../config/index.js';
import type { ProviderFactory, ProviderRegistry } from '../ports/provider.js';
import { createSimulatorProvider, type SimulatorNetwork } from './simulator/index.js';

export interface RegistryOptions {
  /** Reuse a simulator network (tests and benchmarks inspect it). */
  simulatorNetwork?: SimulatorNetwork;
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
