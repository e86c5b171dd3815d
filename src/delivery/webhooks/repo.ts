// Endpoint helpers over the deliveries port (the SQL lives in src/storage/deliveries.ts): the secret rotation.
import type { DeliveryRepo as Deliveries, WebhookEndpoint } from '../../ports/deliveries.js';
import { generateSecret } from './signer.js';

/** A new signing secret for the endpoint; the old one stays valid for `overlapSeconds` after `now` (0: at once). */
export async function rotateSecret(
  deliveries: Deliveries,
  ep: WebhookEndpoint,
  overlapSeconds: number,
  now: Date,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const secret = generateSecret();
  const endpoint = (await deliveries.updateEndpoint(ep.id, {
    secret,
    previous_secret: overlapSeconds > 0 ? ep.secret : null,
    previous_expires_at:
      overlapSeconds > 0 ? new Date(now.getTime() + overlapSeconds * 1000).toISOString() : null,
  }))!;
  return { endpoint, secret };
}
