-- The call log that closed a follow-up (a contact logged on or after its
-- due day), so the follow-up says which call answered it and the call log
-- which follow-ups it closed.  Set by arc_call_logs_close_follow_ups; null
-- for follow-ups closed otherwise.
ALTER TABLE follow_ups ADD COLUMN closed_by_call_log_id bigint REFERENCES call_logs (id);
CREATE INDEX follow_ups_closed_by_call_log_idx ON follow_ups (closed_by_call_log_id)
  WHERE closed_by_call_log_id IS NOT NULL;
