// Instance lifecycle (`status`) and messenger login (`auth_status`) vocabularies.

export const INSTANCE_STATUSES = ['created', 'starting', 'running', 'stopping', 'stopped', 'error'] as const;
/** What the gateway process is doing with an instance's session. */
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const AUTH_STATUSES = [
  'pending',
  'qr_ready',
  'authenticated',
  'client_ready',
  'disconnected',
  'reconnecting',
  'logged_out',
  'failed',
] as const;
/** Where the messenger login stands. */
export type AuthStatus = (typeof AUTH_STATUSES)[number];

export const DESIRED_STATES = ['running', 'stopped'] as const;
/** What the operator asked for; survives restarts. */
export type DesiredState = (typeof DESIRED_STATES)[number];

export const INSTANCE_TYPES = ['api', 'mcp'] as const;
export type InstanceType = (typeof INSTANCE_TYPES)[number];

export const MESSAGE_STATUSES = ['pending', 'sent', 'delivered', 'read', 'failed', 'received'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** How far a message got: acks only ever move a message to a higher rank (the one order, also used in SQL). */
export const ACK_ORDER: Readonly<Record<MessageStatus, number>> = {
  failed: -1,
  pending: 0,
  received: 0,
  sent: 1,
  delivered: 2,
  read: 3,
};

/** True when `next` is a later delivery state than `current` (acks never go backwards). */
export function isAckProgress(current: MessageStatus, next: MessageStatus): boolean {
  return ACK_ORDER[next] > ACK_ORDER[current];
}
