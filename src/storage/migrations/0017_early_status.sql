-- An ack that overtakes its send: kept on the row (stored under its pre-assigned id) until the send is recorded.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

ALTER TABLE {{schema}}.messages ADD COLUMN early_status text;
