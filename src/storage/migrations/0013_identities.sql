-- WhatsApp identities: a contact's LID (privacy id, `<digits>@lid`) and its phone JID, per instance.
-- {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.
-- One row per LID; a phone JID belongs to at most one LID of an instance (a later mapping replaces an older one).

CREATE TABLE {{schema}}.whatsapp_identities (
  instance_id  uuid NOT NULL REFERENCES {{schema}}.instances(id) ON DELETE CASCADE,
  lid          text NOT NULL,
  pn           text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, lid)
);
CREATE UNIQUE INDEX whatsapp_identities_pn_uq ON {{schema}}.whatsapp_identities (instance_id, pn);
