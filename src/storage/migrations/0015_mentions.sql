-- Mentions on messages: the JIDs a message mentions (WhatsApp `contextInfo.mentionedJid`), empty when none.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

ALTER TABLE {{schema}}.messages ADD COLUMN mentions text[] NOT NULL DEFAULT '{}';
