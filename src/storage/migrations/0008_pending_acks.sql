-- Acks that arrive before the send that caused them has recorded the provider's message id.
CREATE TABLE {{schema}}.pending_acks (
  instance_id uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  message_id  text NOT NULL,
  status      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, message_id)
);
