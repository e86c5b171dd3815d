-- Deliveries are ordered per (instance, chat), not per chat id alone: the same contact writing to two of a company's
-- numbers is two conversations, and a failing delivery of one must not hold up the other (issue 16, item 4). New
-- outbox rows carry `<instance id>:<chat id>` as their chat_key (the chat id alone for an event of no instance) (storage/batch-writes.ts chatKeyOf); the deliveries
-- still waiting are re-keyed the same way so each chat keeps its order across the upgrade. Rows already delivered
-- or dead keep their old key (it only orders pending work). {{schema}} is replaced by the quoted DATABASE_SCHEMA.

UPDATE {{schema}}.webhook_deliveries
SET chat_key = instance_id::text || ':' || chat_key
WHERE status = 'pending' AND chat_key IS NOT NULL AND instance_id IS NOT NULL
  AND chat_key NOT LIKE instance_id::text || ':%';
