// The kinds of delivery endpoint: webhooks, the agent bridge and the event sinks (the one list; the others derive from it).

/** The endpoint kinds that are event sinks (src/delivery/sinks): broker targets in the same outbox. */
export const SINK_KINDS = ['rabbitmq', 'nats', 'mqtt'] as const;

/** Every endpoint kind: a signed webhook, the agent bridge, or an event sink. */
export const ENDPOINT_KINDS = ['webhook', 'agent', ...SINK_KINDS] as const;

/** An event sink's kind. */
export type SinkKind = (typeof SINK_KINDS)[number];

/** An endpoint's kind. */
export type EndpointKind = (typeof ENDPOINT_KINDS)[number];

/** True when `kind` is an event sink's. */
export const isSinkKind = (kind: string): kind is SinkKind =>
  (SINK_KINDS as readonly string[]).includes(kind);
