-- MCP server: the audit log of every tool call, and sends waiting for human approval.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

CREATE TABLE {{schema}}.mcp_audit (
  id           bigserial PRIMARY KEY,
  instance_id  uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  company_id   text NOT NULL,
  tool         text NOT NULL,
  args_digest  text NOT NULL,
  outcome      text NOT NULL CHECK (outcome IN ('ok', 'error', 'denied', 'invalid', 'pending_approval')),
  code         text,
  latency_ms   integer NOT NULL,
  key_kind     text,
  key_id       text,
  approval_id  uuid,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_audit_instance_idx ON {{schema}}.mcp_audit (instance_id, id DESC);

CREATE TABLE {{schema}}.mcp_approvals (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  instance_id  uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  company_id   text NOT NULL,
  tool         text NOT NULL,
  request      jsonb NOT NULL,
  status       text NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'approved', 'rejected', 'sent', 'failed')),
  decided_by   text,
  reason       text,
  message_id   uuid,
  error_code   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  decided_at   timestamptz
);
CREATE INDEX mcp_approvals_instance_idx ON {{schema}}.mcp_approvals (instance_id, status, created_at DESC);
