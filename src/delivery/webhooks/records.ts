// Endpoint and delivery records (defined by the deliveries port) and the endpoint kinds that are event sinks.
import type { EndpointKind } from '../../ports/deliveries.js';

export type {
  ClaimedDelivery,
  Delivery,
  DeliveryStatus,
  EndpointKind,
  EndpointPatch,
  NewEndpoint,
  WebhookEndpoint,
} from '../../ports/deliveries.js';

/** The endpoint kinds that are event sinks. */
export const SINK_KINDS: readonly EndpointKind[] = ['rabbitmq', 'nats'];
