-- Scheduler runs as the API shows them (SPEC §2, §4).  The table is in
-- migrations/0007_scheduler_runs.sql; the sweep that fills it is src/schedule/sweep.c.

-- A run never changes once finished, so lists and ETags need no version.
CREATE FUNCTION arc_scheduler_run_json(r scheduler_runs) RETURNS jsonb
LANGUAGE sql STABLE AS
$$
  SELECT jsonb_build_object(
    'id', r.id::text,
    'as_of', arc_ts(r.as_of),
    'trigger', r.trigger,
    'started_at', arc_ts(r.started_at),
    'finished_at', arc_ts(r.finished_at),
    'created', r.created,
    'closed', r.closed,
    'actor', r.actor)
$$;
