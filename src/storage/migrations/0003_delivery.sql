-- Durable delivery: webhook and agent endpoints, and the transactional outbox of their deliveries.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

CREATE TABLE {{schema}}.webhook_endpoints (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  company_id          text NOT NULL REFERENCES {{schema}}.companies(id) ON DELETE CASCADE,
  instance_id         uuid REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  kind                text NOT NULL DEFAULT 'webhook' CHECK (kind IN ('webhook', 'agent')),
  url                 text NOT NULL,
  events              text[] NOT NULL DEFAULT ARRAY[]::text[],
  inbound_only        boolean NOT NULL DEFAULT false,
  include_groups      boolean NOT NULL DEFAULT true,
  enabled             boolean NOT NULL DEFAULT true,
  secret              text,
  previous_secret     text,
  previous_expires_at timestamptz,
  options             jsonb NOT NULL DEFAULT '{}'::jsonb,
  disabled_reason     text,
  failing_since       timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_match_idx ON {{schema}}.webhook_endpoints (company_id, instance_id) WHERE enabled;
CREATE UNIQUE INDEX webhook_endpoints_instance_uq ON {{schema}}.webhook_endpoints (instance_id, kind)
  WHERE instance_id IS NOT NULL;

CREATE TABLE {{schema}}.webhook_deliveries (
  id               bigserial PRIMARY KEY,
  endpoint_id      uuid NOT NULL REFERENCES {{schema}}.webhook_endpoints(id) ON DELETE CASCADE,
  event_id         bigint NOT NULL,
  company_id       text NOT NULL,
  instance_id      uuid,
  chat_key         text,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_error       text,
  response_excerpt text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_deliveries_endpoint_event_uq UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON {{schema}}.webhook_deliveries (next_attempt_at, id)
  WHERE status = 'pending';
CREATE INDEX webhook_deliveries_chat_idx ON {{schema}}.webhook_deliveries (endpoint_id, chat_key, id)
  WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON {{schema}}.webhook_deliveries (endpoint_id, id);
