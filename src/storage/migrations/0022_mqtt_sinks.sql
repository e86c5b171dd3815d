-- MQTT event sinks: a third broker kind beside RabbitMQ and NATS JetStream, in the same outbox and the same
-- endpoints table (target in `options`, write-only credentials in `credentials`). Only the kind check changes.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

ALTER TABLE {{schema}}.webhook_endpoints DROP CONSTRAINT IF EXISTS webhook_endpoints_kind_check;
ALTER TABLE {{schema}}.webhook_endpoints ADD CONSTRAINT webhook_endpoints_kind_check
  CHECK (kind IN ('webhook', 'agent', 'rabbitmq', 'nats', 'mqtt'));
