// The simulator provider: an in-process fake messenger for the demo, the tests and the benchmarks.
import type { ProviderFactory } from '../../ports/provider.js';
import { type SimulatorKnobs, SimulatorNetwork } from './network.js';
import { SimulatorSession } from './session.js';

export { SimulatorNetwork };

export function createSimulatorProvider(
  opts: { network?: SimulatorNetwork; knobs?: Partial<SimulatorKnobs> } = {},
) {
  const network = opts.network ?? new SimulatorNetwork(opts.knobs);
  const factory: ProviderFactory & { network: SimulatorNetwork } = {
    name: 'simulator',
    capabilities: new Set(['qr', 'simulate']),
    addressing: 'phone',
    network,
    // A getter: with the `serverIds` knob the simulator behaves like a provider whose server assigns the ids.
    get newMessageId() {
      return network.knobs.serverIds ? undefined : SimulatorNetwork.messageId;
    },
    createSession: (ctx) => new SimulatorSession(ctx, network),
  };
  return factory;
}
