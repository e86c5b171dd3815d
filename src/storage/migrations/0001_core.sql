-- Core tables: companies, keys, instances, messages, chats, contacts, the event log and gateway metadata.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

CREATE TABLE {{schema}}.companies (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {{schema}}.instances (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  company_id         text NOT NULL REFERENCES {{schema}}.companies(id),
  name               text,
  provider           text NOT NULL,
  type_instance      text[] NOT NULL DEFAULT ARRAY['api']::text[],
  status             text NOT NULL DEFAULT 'created',
  auth_status        text NOT NULL DEFAULT 'pending',
  desired_state      text NOT NULL DEFAULT 'stopped',
  account            text,
  qr                 text,
  qr_updated_at      timestamptz,
  settings           jsonb NOT NULL DEFAULT '{}'::jsonb,
  api_webhook_schema jsonb NOT NULL DEFAULT '{}'::jsonb,
  mcp_schema         jsonb NOT NULL DEFAULT '{}'::jsonb,
  agent              jsonb NOT NULL DEFAULT '{}'::jsonb,
  is_pooled          boolean NOT NULL DEFAULT false,
  assigned_to        text,
  last_error         text,
  last_activity_at   timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_company_idx ON {{schema}}.instances (company_id, created_at, id);
CREATE INDEX instances_desired_idx ON {{schema}}.instances (desired_state);

CREATE TABLE {{schema}}.api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind         text NOT NULL CHECK (kind IN ('admin', 'company', 'instance')),
  prefix       text NOT NULL,
  hash         text NOT NULL UNIQUE,
  company_id   text REFERENCES {{schema}}.companies(id),
  instance_id  uuid REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  scopes       text[] NOT NULL DEFAULT ARRAY[]::text[],
  label        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_company_idx ON {{schema}}.api_keys (company_id);

CREATE TABLE {{schema}}.messages (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  instance_id      uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  company_id       text NOT NULL,
  message_id       text,
  chat_id          text NOT NULL,
  from_id          text,
  to_id            text,
  body             text,
  type             text NOT NULL DEFAULT 'text',
  is_from_me       boolean NOT NULL DEFAULT false,
  is_group         boolean NOT NULL DEFAULT false,
  group_id         text,
  contact_name     text,
  reply_to         text,
  media            jsonb,
  status           text NOT NULL,
  ts               timestamptz NOT NULL,
  idempotency_key  text,
  request_hash     text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT messages_instance_message_uq UNIQUE (instance_id, message_id)
);
CREATE UNIQUE INDEX messages_idempotency_uq ON {{schema}}.messages (instance_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_chat_ts_idx ON {{schema}}.messages (instance_id, chat_id, ts DESC, id DESC);
CREATE INDEX messages_instance_ts_idx ON {{schema}}.messages (instance_id, ts DESC, id DESC);

CREATE TABLE {{schema}}.chats (
  instance_id          uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  chat_id              text NOT NULL,
  name                 text,
  is_group             boolean NOT NULL DEFAULT false,
  last_message_at      timestamptz,
  last_message_preview text,
  unread_count         integer NOT NULL DEFAULT 0,
  PRIMARY KEY (instance_id, chat_id)
);
CREATE INDEX chats_recent_idx ON {{schema}}.chats (instance_id, last_message_at DESC, chat_id);

CREATE TABLE {{schema}}.contacts (
  instance_id  uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  contact_id   text NOT NULL,
  name         text,
  phone        text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, contact_id)
);

CREATE TABLE {{schema}}.events (
  id          bigserial PRIMARY KEY,
  type        text NOT NULL,
  instance_id uuid,
  company_id  text NOT NULL,
  data        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_company_idx ON {{schema}}.events (company_id, id);
CREATE INDEX events_instance_idx ON {{schema}}.events (instance_id, id);

CREATE TABLE {{schema}}.gateway_meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
