-- Event sinks (issue 20): RabbitMQ and NATS JetStream targets are endpoints of their own kinds in the same outbox,
-- so fan-out, retries, dead letters, replay and retention are shared with webhooks. Broker credentials are kept in
-- their own write-only column (never selected into an API view or a log line).
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

ALTER TABLE {{schema}}.webhook_endpoints DROP CONSTRAINT IF EXISTS webhook_endpoints_kind_check;
ALTER TABLE {{schema}}.webhook_endpoints ADD CONSTRAINT webhook_endpoints_kind_check
  CHECK (kind IN ('webhook', 'agent', 'rabbitmq', 'nats'));
ALTER TABLE {{schema}}.webhook_endpoints ADD COLUMN credentials text;

-- One webhook and one agent per instance as before; an instance may have several sinks.
DROP INDEX IF EXISTS {{schema}}.webhook_endpoints_instance_uq;
CREATE UNIQUE INDEX webhook_endpoints_instance_uq ON {{schema}}.webhook_endpoints (instance_id, kind)
  WHERE instance_id IS NOT NULL AND kind IN ('webhook', 'agent');
