-- The outbox claim reads only the head (oldest pending delivery) of each chat, through webhook_deliveries_chat_idx,
-- and the due deliveries without a chat through this index, so its cost does not grow with a chat's backlog
-- (issue 16, item 4). {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

CREATE INDEX webhook_deliveries_chatless_idx ON {{schema}}.webhook_deliveries (endpoint_id, next_attempt_at, id)
  WHERE status = 'pending' AND chat_key IS NULL;
