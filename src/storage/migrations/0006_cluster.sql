-- Cluster tables: session leases (one owner replica per instance), live replicas, and forwarded commands.
-- Leases are plain rows with an expiry taken by INSERT … ON CONFLICT, so they work behind a transaction pooler.

CREATE TABLE {{schema}}.session_leases (
  instance_id  uuid PRIMARY KEY REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  owner        text NOT NULL,
  epoch        bigint NOT NULL DEFAULT 1,
  acquired_at  timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX session_leases_owner_idx ON {{schema}}.session_leases (owner);

CREATE TABLE {{schema}}.cluster_replicas (
  id            text PRIMARY KEY,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  sessions      integer NOT NULL DEFAULT 0
);

CREATE TABLE {{schema}}.cluster_commands (
  id           bigserial PRIMARY KEY,
  target       text NOT NULL,
  instance_id  uuid NOT NULL,
  op           text NOT NULL,
  payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed', 'expired')),
  result       jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  done_at      timestamptz
);
CREATE INDEX cluster_commands_target_idx ON {{schema}}.cluster_commands (target, status, id);
