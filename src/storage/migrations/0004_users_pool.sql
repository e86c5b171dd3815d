-- Users of a company (email + scrypt password hash), the one WhatsApp connection of a company (seed 003 session
-- or seed 004 pooled instance), and an index that makes claiming a free warm pooled instance cheap.

CREATE TABLE {{schema}}.users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  company_id     text NOT NULL REFERENCES {{schema}}.companies(id),
  email          text NOT NULL,
  name           text,
  password_hash  text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz
);
CREATE UNIQUE INDEX users_email_uq ON {{schema}}.users (lower(email));
CREATE INDEX users_company_idx ON {{schema}}.users (company_id, created_at);

CREATE TABLE {{schema}}.company_connections (
  company_id   text PRIMARY KEY REFERENCES {{schema}}.companies(id),
  instance_id  uuid NOT NULL UNIQUE REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  source       text NOT NULL CHECK (source IN ('session', 'pool')),
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX instances_pool_free_idx ON {{schema}}.instances (created_at)
  WHERE is_pooled AND assigned_to IS NULL;
