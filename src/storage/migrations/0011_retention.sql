-- Retention and QR coalescing: indexes to delete old rows in small batches and to find superseded QR events.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

CREATE INDEX events_created_idx ON {{schema}}.events (created_at);
CREATE INDEX events_qr_idx ON {{schema}}.events (instance_id, id) WHERE type = 'qr';
CREATE INDEX webhook_deliveries_event_idx ON {{schema}}.webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_delivered_idx ON {{schema}}.webhook_deliveries (delivered_at)
  WHERE status = 'delivered';
CREATE INDEX webhook_deliveries_dead_idx ON {{schema}}.webhook_deliveries (last_attempt_at) WHERE status = 'failed';
CREATE INDEX pending_acks_created_idx ON {{schema}}.pending_acks (created_at);
CREATE INDEX whatsapp_media_created_idx ON {{schema}}.whatsapp_media (created_at);
