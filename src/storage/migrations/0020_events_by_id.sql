-- Lighter appends (issue 16, item 2): the btree on events.created_at, written on every append and read only by the
-- retention job, becomes a BRIN index (one small summary per 128 pages; events are appended in creation order).
-- Retention walks the primary key from its oldest end while old events remain and uses the BRIN index to find
-- that none are left. {{schema}} is replaced by the quoted DATABASE_SCHEMA; every statement is schema-qualified.

DROP INDEX IF EXISTS {{schema}}.events_created_idx;
CREATE INDEX IF NOT EXISTS events_created_brin ON {{schema}}.events USING brin (created_at);
