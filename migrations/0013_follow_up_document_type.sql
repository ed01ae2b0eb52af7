-- Follow-up events are to_jsonb of the document's fields
-- (arc_follow_up_fields, src/schedule/follow_ups.sql), the same definition
-- the API renders: the composite type that held a second copy of the
-- document's shape goes.
DROP TYPE arc_follow_up_document;
