-- One webhook configuration model (issue 19): an instance's webhook and agent live in its endpoints only, and the
-- instance API derives `api_webhook_schema` / `agent` from them. Config that is only on the instance row (imported
-- from the seeds, or never synced) moves into an endpoint. An endpoint that exists already is kept as it is: it is
-- what the delivery worker used. The old values are copied to instance_hook_config_0018 (without the agent API
-- key, which goes into the endpoint), then the two columns are dropped. Every statement may run again safely.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA, every statement is schema-qualified.

CREATE TABLE IF NOT EXISTS {{schema}}.instance_hook_config_0018 (
  instance_id        uuid PRIMARY KEY REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  api_webhook_schema jsonb NOT NULL,
  agent              jsonb NOT NULL,
  saved_at           timestamptz NOT NULL DEFAULT now()
);

INSERT INTO {{schema}}.instance_hook_config_0018 (instance_id, api_webhook_schema, agent)
SELECT id, api_webhook_schema, agent - 'api_key' FROM {{schema}}.instances
 WHERE api_webhook_schema <> '{}'::jsonb OR agent <> '{}'::jsonb
ON CONFLICT (instance_id) DO NOTHING;

-- The webhook: url (1–2048 characters), events (strings, '*' meaning all as an empty list does), enabled.
INSERT INTO {{schema}}.webhook_endpoints (company_id, instance_id, kind, url, events, enabled, secret)
SELECT i.company_id, i.id, 'webhook', btrim(i.api_webhook_schema->>'url'),
  ARRAY(SELECT btrim(e #>> '{}')
          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(i.api_webhook_schema->'events') = 'array'
                                         THEN i.api_webhook_schema->'events' ELSE '[]'::jsonb END) e
         WHERE jsonb_typeof(e) = 'string' AND btrim(e #>> '{}') NOT IN ('', '*')),
  COALESCE(CASE WHEN jsonb_typeof(i.api_webhook_schema->'enabled') = 'boolean'
                THEN (i.api_webhook_schema->>'enabled')::boolean END, true),
  'whsec_' || encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'base64')
  FROM {{schema}}.instances i
 WHERE jsonb_typeof(i.api_webhook_schema->'url') = 'string'
   AND length(btrim(i.api_webhook_schema->>'url')) BETWEEN 1 AND 2048
   AND NOT EXISTS (SELECT 1 FROM {{schema}}.webhook_endpoints w WHERE w.instance_id = i.id AND w.kind = 'webhook');

-- The agent: url (trailing slashes dropped), agent_id, api_key (the endpoint secret), enabled, reply_in_groups.
INSERT INTO {{schema}}.webhook_endpoints (company_id, instance_id, kind, url, events, inbound_only, include_groups,
                                          enabled, secret, options)
SELECT i.company_id, i.id, 'agent', rtrim(btrim(i.agent->>'url'), '/'), ARRAY['message'], true,
  COALESCE(CASE WHEN jsonb_typeof(i.agent->'reply_in_groups') = 'boolean'
                THEN (i.agent->>'reply_in_groups')::boolean END, false),
  COALESCE(CASE WHEN jsonb_typeof(i.agent->'enabled') = 'boolean' THEN (i.agent->>'enabled')::boolean END, true),
  CASE WHEN jsonb_typeof(i.agent->'api_key') = 'string' AND i.agent->>'api_key' <> '' THEN i.agent->>'api_key' END,
  jsonb_build_object('agent_id', btrim(i.agent->>'agent_id'))
  FROM {{schema}}.instances i
 WHERE jsonb_typeof(i.agent->'url') = 'string' AND length(rtrim(btrim(i.agent->>'url'), '/')) BETWEEN 1 AND 2048
   AND jsonb_typeof(i.agent->'agent_id') = 'string' AND length(btrim(i.agent->>'agent_id')) BETWEEN 1 AND 200
   AND NOT EXISTS (SELECT 1 FROM {{schema}}.webhook_endpoints w WHERE w.instance_id = i.id AND w.kind = 'agent');

-- The copy of the row's config the old sync compared against is no longer used.
UPDATE {{schema}}.webhook_endpoints SET options = options - 'source'
 WHERE kind IN ('webhook', 'agent') AND options ? 'source';

ALTER TABLE {{schema}}.instances DROP COLUMN IF EXISTS api_webhook_schema;
ALTER TABLE {{schema}}.instances DROP COLUMN IF EXISTS agent;
