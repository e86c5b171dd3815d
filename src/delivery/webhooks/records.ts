// The endpoint kinds that are event sinks (the endpoint and delivery records are the deliveries port's).
import type { EndpointKind } from '../../ports/deliveries.js';

/** The endpoint kinds that are event sinks. */
export const SINK_KINDS: readonly EndpointKind[] = ['rabbitmq', 'nats', 'mqtt'];
