-- Scoped company keys: optional restriction of a key to some instances of its company.
ALTER TABLE {{schema}}.api_keys ADD COLUMN instance_ids uuid[];
