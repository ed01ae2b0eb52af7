-- The events a transaction already wrote for a row are looked up by
-- (txid, resource_type, resource_id) each time a deferred row trigger
-- fires (arc_emit, 0006/0017) and in arc_event_append.  PL/pgSQL caches
-- those plans; one made while the events table looked small is a
-- sequential scan (or a walk over the feed index), and a commit that fires
-- 100k row triggers -- a CSV import, a large sweep -- then reads every
-- event of the transaction once per row: minutes instead of a second.
-- Without sequential scans the only fitting plan is the lookup index
-- events_txid_resource_idx (0013).
ALTER FUNCTION arc_emit() SET enable_seqscan = off;
ALTER FUNCTION arc_event_append(text, text, text, bigint, jsonb) SET enable_seqscan = off;
