// An instance's webhook and agent settings as the instance API shows them, derived from its endpoints (their only store).
import type { WebhookEndpoint } from '../ports/deliveries.js';

/** The webhook and agent settings an instance create/update carries; a setting left out is not changed. */
export interface InstanceEndpointConfig {
  api_webhook_schema?: Record<string, unknown>;
  agent?: Record<string, unknown>;
}

/** What the instance view shows for its endpoints: `{}` for a setting the instance does not have. */
export interface InstanceEndpointView {
  api_webhook_schema: Record<string, unknown>;
  agent: Record<string, unknown>;
}

/**
 * `api_webhook_schema` is `{ url, events, enabled }` of the webhook endpoint (empty events: all); `agent` is
 * `{ url, agent_id, enabled, reply_in_groups, has_api_key }` of the agent endpoint (the key itself is never shown).
 */
export function instanceEndpointView(
  instanceId: string,
  endpoints: readonly WebhookEndpoint[],
): InstanceEndpointView {
  const hook = endpoints.find((e) => e.instance_id === instanceId && e.kind === 'webhook');
  const agent = endpoints.find((e) => e.instance_id === instanceId && e.kind === 'agent');
  return {
    api_webhook_schema: hook ? { url: hook.url, events: hook.events, enabled: hook.enabled } : {},
    agent: agent
      ? {
          url: agent.url,
          agent_id: String(agent.options.agent_id ?? ''),
          enabled: agent.enabled,
          reply_in_groups: agent.include_groups,
          has_api_key: typeof agent.secret === 'string',
        }
      : {},
  };
}
