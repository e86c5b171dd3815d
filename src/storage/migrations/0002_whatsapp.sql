-- WhatsApp (Baileys) auth state: the creds document and the Signal key store, per instance.
-- Values are JSON text written with Baileys' BufferJSON; deleting an instance deletes its auth state.

CREATE TABLE {{schema}}.whatsapp_auth (
  instance_id  uuid PRIMARY KEY REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  creds        text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {{schema}}.whatsapp_keys (
  instance_id  uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  type         text NOT NULL,
  key_id       text NOT NULL,
  value        text NOT NULL,
  PRIMARY KEY (instance_id, type, key_id)
);

-- Inbound media messages as Baileys received them (keys to fetch and decrypt the bytes on demand).
CREATE TABLE {{schema}}.whatsapp_media (
  instance_id  uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  message_id   text NOT NULL,
  raw          text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, message_id)
);
